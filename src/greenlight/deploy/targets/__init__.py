"""Deployment targets. A target only starts, stops, probes and switches a color; every decision is
the controller's. `base` holds the contract, `local` and `kubernetes` implement it."""

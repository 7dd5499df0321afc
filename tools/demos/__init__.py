"""Demonstrations behind `make *-demo`: a feature end to end against a real local service."""

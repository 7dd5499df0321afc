"""Gated blue/green deployment: one state machine (`controller`) over pluggable targets that only
start, stop, probe and switch a color. The controller talks to services over HTTP only; it never
imports the serving code."""

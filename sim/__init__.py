"""implsim: agent-based simulation of collective implementation of patient-safety bundles."""

__version__ = "0.1.0"

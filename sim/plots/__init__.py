"""Figures, one module per kind of figure. Matplotlib with the non-interactive Agg backend."""

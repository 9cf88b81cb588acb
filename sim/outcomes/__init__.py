"""Outcomes: recording a run and summarising it as implementation outcomes (Proctor 2011)."""

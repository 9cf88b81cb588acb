"""Mechanisms of SPEC §5, one module each; the order they run in is :data:`sim.model.PHASES`.

Each module has pure functions over arrays (no Python loop over staff) and, for a phase, a
function of a :class:`~sim.loop.Week` (e.g. :func:`~sim.mechanisms.adoption.adopt`) that writes
the phase's equation from them, drawing from the week's named streams so every mechanism keeps
its own.
"""

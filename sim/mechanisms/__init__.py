"""Mechanisms of SPEC §5, one module each; the order they run in is written in :mod:`sim.model`.

Each mechanism is a pure function over arrays (no Python loop over staff), given its uniform random
draws by the caller so that every mechanism keeps its own random stream.
"""

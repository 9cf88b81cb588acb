"""Mesa agents: organisations, units and staff as views onto the model's arrays.

The arrays in :class:`~sim.state.State` and :class:`~sim.population.Population` are the truth;
agents read (and, for staff, may set) them by index, so Mesa's ``AgentSet`` tools
(``select``, ``groupby``, ``agg``) and visualisation work without a per-agent hot loop.
"""

from sim.agents.organisation import Organisation
from sim.agents.staff import Staff
from sim.agents.unit import Unit

__all__ = ["Organisation", "Staff", "Unit"]

"""The smallest health system with every kind of organisation, for tests that need many fast runs.

One trust with two wards and a mental-health unit, one municipality with a nursing home, a
home-care team and a GP practice: the ``[overrides.structure]`` table of an experiment, SA or
calibration file.
"""

TINY_STRUCTURE = """
[overrides.structure]
wards_per_trust = 2
mental_health_units_per_trust = 1
municipalities_per_trust = 1
nursing_homes_per_municipality = 1
home_care_teams_per_municipality = 1
gp_practices_per_municipality = 1
"""

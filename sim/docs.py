"""Documentation generated from the declarations (parameters, interventions, bundles).

``docs/parameters.md`` is this module's output; a test fails when it is out of date, so the
documentation cannot drift from the code. Refresh with ``implsim params > docs/parameters.md``.
"""

from __future__ import annotations

from sim.interventions import COMMON, REGISTRY
from sim.params import ALL_SETS, MEASUREMENT, markdown_table


def parameters_markdown() -> str:
    """Every declared parameter as Markdown tables."""
    parts = [
        "# implsim parameters\n",
        "Generated from the declarations in `sim/params.py` and `sim/interventions/` by "
        "`implsim params`; do not edit by hand. Every value can be set in a scenario file's "
        "table of the same name. Defaults marked *assumption* are to be calibrated or varied "
        "in sensitivity analysis.\n",
    ]
    from sim.experiment.design import TOP as EXPERIMENT_TOP
    from sim.scenario import OUTPUT, TOP

    parts.append(markdown_table(TOP).replace("## `[scenario]`", "## Scenario file: top-level keys"))
    parts += [markdown_table(p) for p in ALL_SETS]
    parts += [markdown_table(OUTPUT), markdown_table(MEASUREMENT)]
    parts.append(markdown_table(EXPERIMENT_TOP).replace(
        "## `[experiment]`", "## Experiment file: top-level keys"))
    parts.append(markdown_table(COMMON).replace("## `[intervention]`",
                                                "## Interventions: keys every type accepts"))
    parts.append("Every intervention also takes `target`: `\"all\"`, an organisation kind, or a "
                 "table `{ kinds = [...], organisations = [...], units = [...], share = 0.5, "
                 "rule = \"random\" | \"centrality\" | \"readiness\" }`.\n")
    for name, cls in sorted(REGISTRY.items()):
        doc = ((cls.__module__ and __import__(cls.__module__, fromlist=["x"]).__doc__) or "")
        parts.append(markdown_table(cls.PARAMS).replace(
            f"## `[{cls.PARAMS.name}]`", f"## Intervention `type = \"{name}\"`") +
            "\n" + doc.strip() + "\n")
    return "\n".join(parts)

"""Semantic checks (sim.checks): each probe of issue 17 is an error or a warning.

Errors are what cannot work (the run would silently report NaN or nothing for it); warnings what
is probably a mistake. ``implsim validate`` lists every error and warning at once, one line
each; run and experiment print the warnings. Every shipped scenario, experiment, calibration and
bundle file validates without an error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.checks import ERROR, WARNING, SemanticError, experiment_findings, scenario_findings
from sim.cli import main
from sim.experiment import load_experiment
from sim.networks.loaders import load_graphml
from sim.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]

HEAD = """\
name = "probe"
weeks = 52
bundles = ["antibiotic_stewardship"]

[structure]
wards_per_trust = 2
mental_health_units_per_trust = 1
municipalities_per_trust = 1
nursing_homes_per_municipality = 1
home_care_teams_per_municipality = 1
gp_practices_per_municipality = 1
"""

STRATEGY = """
[[strategies]]
name = "support"
  [[strategies.interventions]]
  type = "training"
  start_week = 2
  end_week = 20
"""


def write(tmp_path: Path, text: str, name: str = "probe.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def findings_of(path: Path) -> list:
    """Every finding of a scenario file: the errors (raised together), else the warnings."""
    try:
        return scenario_findings(load_scenario(path))
    except SemanticError as exc:
        return exc.findings


def one(findings: list, level: str, field: str, *words: str):
    """The one finding of ``level`` at ``field``, whose message says every word."""
    hits = [f for f in findings if f.level == level and f.where.endswith(field)]
    assert len(hits) == 1, findings
    for w in words:
        assert w in hits[0].message, hits[0]
    return hits[0]


def test_a_plain_scenario_has_no_findings(tmp_path):
    assert findings_of(write(tmp_path, HEAD + STRATEGY)) == []


# --- errors: what cannot work ----------------------------------------------------------------
def test_intervention_starting_after_the_run_ends(tmp_path):
    text = HEAD + STRATEGY.replace("start_week = 2\n  end_week = 20",
                                   "start_week = 60\n  end_week = 80")
    one(findings_of(write(tmp_path, text)), ERROR, "interventions[0].start_week",
        "week 60", "weeks = 52")


def test_launch_after_the_run_ends(tmp_path):
    text = HEAD + '[[strategies]]\nname = "late"\nlaunch = { antibiotic_stewardship = 60 }\n'
    one(findings_of(write(tmp_path, text)), WARNING, "launch.antibiotic_stewardship",
        "never introduced")


def test_mental_health_bundle_in_a_structure_without_mental_health_units(tmp_path):
    text = HEAD.replace('bundles = ["antibiotic_stewardship"]',
                        'bundles = ["mental_health_patient_involvement"]').replace(
        "mental_health_units_per_trust = 1", "mental_health_units_per_trust = 0") + STRATEGY
    # it lists home care and GP practices too, but there only its cross-boundary element is
    # done, with the (absent) mental-health service
    one(findings_of(write(tmp_path, text)), ERROR, "bundles: mental_health_patient_involvement",
        "mental_health_units_per_trust", "cross-boundary")


def test_target_kind_with_no_units(tmp_path):
    text = HEAD + STRATEGY + '  target = { kinds = ["icu"] }\n'
    one(findings_of(write(tmp_path, text)), ERROR, "target.kinds", "no icu units",
        "icu_units_per_trust")


def test_target_kinds_partly_without_units_warn(tmp_path):
    text = HEAD + STRATEGY + '  target = { kinds = ["icu", "hospital"] }\n'
    one(findings_of(write(tmp_path, text)), WARNING, "target.kinds", "no icu units")


def test_strategy_with_empty_bundles_and_interventions(tmp_path):
    text = HEAD + STRATEGY.replace('name = "support"\n', 'name = "support"\nbundles = []\n')
    one(findings_of(write(tmp_path, text)), ERROR, "strategies['support'].bundles",
        "support nothing")


def test_strategy_with_empty_bundles_only_warns(tmp_path):
    """A strategy launching nothing is a null reference (experiments/measurement.toml)."""
    text = HEAD + '[[strategies]]\nname = "null"\nbundles = []\n'
    one(findings_of(write(tmp_path, text)), WARNING, "strategies['null'].bundles",
        "baseline practice")


def test_intervention_with_empty_bundles(tmp_path):
    text = HEAD + STRATEGY + "  bundles = []\n"
    one(findings_of(write(tmp_path, text)), ERROR, "interventions[0].bundles",
        "supports no bundle")


CROSS_ONE_SIDE = """
[[bundles]]
name = "one_sided"
settings = ["hospital", "nursing_home"]
  [[bundles.elements]]
  name = "local"
  roles = ["nurse"]
  [[bundles.elements]]
  name = "handover"
  roles = ["nurse"]
  settings = ["hospital"]
  cross_boundary = true
"""


def test_cross_boundary_element_on_one_side_only(tmp_path):
    text = HEAD.replace('bundles = ["antibiotic_stewardship"]\n', "") + CROSS_ONE_SIDE + STRATEGY
    one(findings_of(write(tmp_path, text)), ERROR, "elements[1] handover.settings",
        "specialist side", "cross_boundary = false")


def test_element_performed_by_a_role_nobody_there_has(tmp_path):
    text = HEAD.replace('bundles = ["antibiotic_stewardship"]\n', "") + """
[[bundles]]
name = "no_one"
settings = ["hospital"]
  [[bundles.elements]]
  name = "talk"
  roles = ["nurse"]
  [[bundles.elements]]
  name = "therapy"
  roles = ["therapist"]
""" + STRATEGY
    one(findings_of(write(tmp_path, text)), ERROR, "elements[1] therapy.roles",
        "no therapist works in hospital")


def test_element_role_missing_in_some_settings_warns(tmp_path):
    text = HEAD.replace('bundles = ["antibiotic_stewardship"]\n', "") + """
[[bundles]]
name = "some"
settings = ["hospital", "home_care"]
  [[bundles.elements]]
  name = "review"
  roles = ["pharmacist"]
""" + STRATEGY
    one(findings_of(write(tmp_path, text)), WARNING, "elements[0] review.roles",
        "no pharmacist works in home_care")


# --- warnings: probably a mistake ------------------------------------------------------------
def test_sustainability_weeks_longer_than_the_run(tmp_path):
    text = HEAD + "[parameters]\nsustainability_weeks = 104\n" + STRATEGY
    one(findings_of(write(tmp_path, text)), WARNING, "parameters.sustainability_weeks",
        "never measured")


def test_the_default_sustainability_weeks_in_a_short_run_is_not_flagged(tmp_path):
    text = HEAD.replace("weeks = 52", "weeks = 30") + STRATEGY
    assert findings_of(write(tmp_path, text)) == []


def test_every_weeks_longer_than_the_run(tmp_path):
    text = HEAD + "[output]\nevery_weeks = 60\n" + STRATEGY
    one(findings_of(write(tmp_path, text)), WARNING, "output.every_weeks", "only week 0")


def test_within_unit_degree_above_the_unit_sizes(tmp_path):
    text = HEAD + "[network]\nwithin_unit_degree = 100\n" + STRATEGY
    text = text.replace("[structure]\n", "[structure]\nstaff_per_ward = 2\n")
    one(findings_of(write(tmp_path, text)), WARNING, "network.within_unit_degree",
        "every unit kind is smaller", "hospital 2 staff")


def test_within_unit_degree_above_some_unit_sizes(tmp_path):
    text = HEAD + "[network]\nwithin_unit_degree = 10\n" + STRATEGY
    text = text.replace("[structure]\n", "[structure]\nstaff_per_ward = 2\n")
    one(findings_of(write(tmp_path, text)), WARNING, "network.within_unit_degree",
        "some unit kind", "hospital 2 staff", "gp 8 staff")


def test_odd_within_unit_degree(tmp_path):
    text = HEAD + "[network]\nwithin_unit_degree = 5\n" + STRATEGY
    one(findings_of(write(tmp_path, text)), WARNING, "network.within_unit_degree", "odd", "4")


def test_more_regions_than_trusts(tmp_path):
    text = HEAD.replace("[structure]\n", "[structure]\nregions = 3\nhospital_trusts = 2\n")
    one(findings_of(write(tmp_path, text + STRATEGY)), WARNING, "structure.regions",
        "1 regions stay empty")


def test_complex_contagion_nobody_can_reach(tmp_path):
    text = HEAD + ('[parameters]\ncontagion = "complex"\nthreshold_mean = 1.0\n'
                   'threshold_sd = 0.0\n') + STRATEGY
    one(findings_of(write(tmp_path, text)), WARNING, "parameters.threshold_mean",
        "every colleague")


def test_identical_arms_and_duplicate_design_points(tmp_path):
    write(tmp_path, HEAD + STRATEGY, "base.toml")
    exp = write(tmp_path, """\
name = "dup"
scenario = "base.toml"
replicates = 1
[[arms]]
name = "a"
strategy = "support"
[[arms]]
name = "b"
strategy = "support"
[design]
type = "grid"
[design.factors]
"parameters.p_abandon" = [0.01, 0.02, 0.01]
""", "exp.toml")
    found = experiment_findings(load_experiment(exp))
    one(found, WARNING, "exp.toml: arms", "'a' and 'b' are identical")
    one(found, WARNING, "exp.toml: design", "1 design point(s)", "point 2 = point 0")


def test_arms_differing_by_overrides_are_not_identical(tmp_path):
    write(tmp_path, HEAD + STRATEGY, "base.toml")
    exp = write(tmp_path, """\
name = "ok"
scenario = "base.toml"
replicates = 1
[[arms]]
name = "a"
strategy = "support"
[[arms]]
name = "b"
strategy = "support"
[arms.overrides.parameters]
p_abandon = 0.02
""", "exp.toml")
    assert experiment_findings(load_experiment(exp)) == []


def test_graphml_weights_must_be_positive_numbers(tmp_path):
    for bad in ("NaN", "-1.0"):
        path = write(tmp_path, f"""<?xml version="1.0" encoding="UTF-8"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key id="w" for="edge" attr.name="weight" attr.type="double"/>
  <graph edgedefault="undirected">
    <node id="a"/><node id="b"/>
    <edge source="a" target="b"><data key="w">{bad}</data></edge>
  </graph>
</graphml>
""", "net.graphml")
        with pytest.raises(Exception, match=r"net.graphml: weight: edge 'a' -> 'b': weight "
                           r"must be a positive number"):
            load_graphml(path)


# --- all at once -----------------------------------------------------------------------------
def test_validate_lists_every_error_and_warning_at_once(tmp_path, capsys):
    text = HEAD.replace("weeks = 52", "weeks = 40") + """
[network]
within_unit_degree = 5
""" + STRATEGY.replace("start_week = 2\n  end_week = 20", "start_week = 50\n  end_week = 60") \
        + '  target = { kinds = ["icu"] }\n  bundles = []\n'
    path = write(tmp_path, text)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("implsim: error: ")]
    warnings = [line for line in err if line.startswith("implsim: warning: ")]
    assert len(errors) == 3, err  # start after the end, icu target, bundles = []
    assert any("start_week" in e for e in errors)
    assert any("target.kinds" in e for e in errors)
    assert any("interventions[0].bundles" in e for e in errors)
    assert len(warnings) == 1 and "within_unit_degree" in warnings[0]
    assert err[-1].endswith("3 errors")


def test_run_names_the_first_error_and_counts_the_others(tmp_path, capsys):
    text = HEAD + STRATEGY.replace("start_week = 2\n  end_week = 20",
                                   "start_week = 60\n  end_week = 80") + "  bundles = []\n"
    path = write(tmp_path, text)
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "and 1 more: implsim validate lists them all" in err[0], err


def test_run_prints_warnings_one_line_each(tmp_path, capsys):
    text = HEAD.replace("weeks = 52", "weeks = 6") + "[network]\nwithin_unit_degree = 5\n" \
        + STRATEGY.replace("end_week = 20", "end_week = 4")
    path = write(tmp_path, text)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet",
                 "--no-plots", "--replicates", "1"]) == 0
    err = capsys.readouterr().err
    assert err.count("implsim: warning: ") == 1 and "within_unit_degree" in err


SHIPPED = sorted([*REPO.glob("experiments/*.toml"), *REPO.glob("calibration/*.toml"),
                  *REPO.glob("calibration/scenarios/*.toml"),
                  *REPO.glob("calibration/evidence/designs/*.toml"),
                  *REPO.glob("sim/bundles/data/*.toml"), REPO / "sim/scenarios/default.toml"])


def test_shipped_scenarios_and_experiments_load_without_an_error():
    """The semantic checks run in the loaders: no shipped file is refused by them (fast)."""
    for path in SHIPPED:
        text = path.read_text()
        if "elements" in text or "[[fit]]" in text or "method =" in text:
            continue  # bundles, calibrations, analyses: the slow test below
        if 'scenario = "' in text:
            found = experiment_findings(load_experiment(path))
        else:
            found = scenario_findings(load_scenario(path))
        assert all(f.level == WARNING for f in found), found


@pytest.mark.slow
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPO)))
def test_every_shipped_file_validates_without_an_error(path, capsys):
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "error" not in err
    # the warnings they get (listed in the report): only the null reference strategy
    expected = 1 if path.name == "measurement.toml" else 0
    assert err.count("implsim: warning: ") == expected, err


def test_an_experiment_lists_its_arms_errors_and_its_own_warnings_together(tmp_path, capsys):
    """Overrides can make a base scenario's bundle impossible: the arm's scenario is checked."""
    write(tmp_path, HEAD.replace('bundles = ["antibiotic_stewardship"]',
                                 'bundles = ["mental_health_patient_involvement"]') + STRATEGY,
          "base.toml")
    exp = write(tmp_path, """\
name = "shrunk"
scenario = "base.toml"
replicates = 1
[overrides.structure]
mental_health_units_per_trust = 0
[[arms]]
name = "a"
strategy = "support"
[[arms]]
name = "b"
strategy = "support"
[design]
type = "list"
points = [{ "parameters.p_abandon" = 0.01 }, { "parameters.p_abandon" = 0.01 }]
""", "exp.toml")
    assert main(["validate", str(exp)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert any("error: " in e and "mental_health_units_per_trust" in e for e in err), err
    assert any("warning: " in e and "are identical" in e for e in err), err
    assert any("warning: " in e and "repeat earlier ones" in e for e in err), err
    assert err[-1].endswith("1 error")

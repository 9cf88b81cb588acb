"""Published evidence targets (issue 15): every file names its source and the source's words."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.calibrate.evidence import EVIDENCE_DIR, evidence_from_dict, evidence_set, load_evidence
from sim.errors import InputError

GOOD = {"name": "t", "title": "T", "citation": "A et al. 2020", "quote": "rose from 40 to 50%",
        "verified": True, "use": "not_used", "setting": ["hospital"],
        "figure": {"measure": "level_after", "value": 50.0, "unit": "%", "baseline": 40.0}}


def test_every_shipped_target_names_its_source_and_quotes_it():
    targets = evidence_set()
    assert targets, f"no evidence files in {EVIDENCE_DIR}"
    for t in targets.values():
        assert t.citation.strip() and t.quote.strip(), t.name
        if t.use != "not_used":
            assert t.verified, t.name


def test_the_western_norway_trial_is_quoted_as_its_abstract_says():
    t = evidence_set()["wathne_2018_guideline_adherence"]
    assert "from 60 to 66%" in t.quote
    assert (t.baseline, t.value, t.n) == (60.0, 66.0, 1802)
    assert t.element == "guideline_concordant_choice" and t.use == "fit"


@pytest.mark.parametrize("change, match", [
    ({"verified": False, "use": "fit"},
     r"t.toml: use: a figure not verified in its source cannot be used"),
    ({"use": "fit"}, r"t.toml: design: a figure with use = 'fit' needs a \[design\] table"),
    ({"use": "maybe"}, r"t.toml: use: must be one of fit, hold_out, not_used"),
    ({"setting": ["moon"]}, r"t.toml: setting: must be a list of"),
    ({"interventions": ["magic"]}, r"t.toml: interventions: must be a list of intervention"),
    ({"quote": ""}, r"t.toml: quote: must be a non-empty string"),
    ({"colour": 1}, r"t.toml: colour: unknown key"),
    ({"figure": {**GOOD["figure"], "measure": "vibes"}}, r"figure.measure: must be one of"),
    ({"figure": {**GOOD["figure"], "value": float("nan")}}, r"figure.value: must be a finite"),
    ({"figure": {**GOOD["figure"], "spread": {"kind": "IQR", "low": 0.0, "high": 10.0}}},
     r"figure.spread: the IQR \[0, 10\] must contain the value 50"),
])
def test_bad_targets_are_one_line_errors(change, match):
    with pytest.raises(InputError, match=match) as err:
        evidence_from_dict({**GOOD, **change}, "t.toml")
    assert "\n" not in str(err.value)


def test_unverified_figures_are_kept_but_never_used():
    t = evidence_from_dict({**GOOD, "verified": False, "use": "not_used"}, "t.toml")
    assert not t.verified and t.use == "not_used"


def test_the_name_must_be_the_file_name(tmp_path: Path):
    path = tmp_path / "other.toml"
    path.write_text('name = "t"\ntitle = "T"\ncitation = "c"\nquote = "q"\nverified = true\n'
                    'use = "not_used"\nsetting = ["hospital"]\n[figure]\nmeasure = "level_after"\n'
                    'value = 1.0\nunit = "%"\n')
    with pytest.raises(InputError, match=r"other\.toml: name: must equal the file name 'other'"):
        load_evidence(path)


def test_the_set_holds_the_review_medians_and_programme_figures_with_their_roles():
    t = evidence_set()
    # review medians of single strategies, as the reviews' own texts give them
    assert t["forsetlund_2009_educational_meetings"].spread.low == 1.8
    assert t["shojania_2009_onscreen_reminders"].value == 4.2
    assert t["baskerville_2012_practice_facilitation"].measure == "standardised_mean_difference"
    # the Keystone course gave the bundle its ratio: only a held-out check
    assert t["pronovost_2006_keystone_clabsi"].use == "hold_out"
    assert "7.7 at baseline to 1.4" in t["pronovost_2006_keystone_clabsi"].quote
    # figures not read in their source stay visible and unused
    unread = [n for n, x in t.items() if not x.verified]
    assert unread and all(t[n].use == "not_used" for n in unread)

"""The model description (docs/ODD.md) and the scenario guide (docs/guide.md) match the code.

Each check is a small function that returns what is missing or wrong (an empty list when the
docs are current), and each has a test that feeds it a deliberately drifted input, so a check
that could never fail is caught too.

Tables between ``<!-- generated: ... -->`` and ``<!-- end generated -->`` in docs/ODD.md are
rendered from the declarations. After changing a parameter, an intervention or a bundle, refresh
them with::

    .venv/bin/python tests/test_odd.py --write
"""

from __future__ import annotations

import pkgutil
import re
import shutil
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sim.bundles.bundle as bundle_mod
import sim.interventions as interventions_mod
import sim.mechanisms as mechanisms_pkg
import sim.params as params_mod
from sim.bundles.bundle import bundle_from_dict
from sim.errors import InputError
from sim.interventions.targeting import RULES
from sim.params import ASSUMPTION, ORG_KINDS, ROLES, ParamSet
from sim.scenario import scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
ODD = ROOT / "docs" / "ODD.md"
GUIDE = ROOT / "docs" / "guide.md"

INTERVENTION_HEADING = "### Intervention `{}`"
MECHANISM_HEADING = "### Mechanism `{}`"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def headings(text: str) -> list[str]:
    """Markdown heading lines (outside fenced code), stripped."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            out.append(line.strip())
    return out


def section(text: str, number: int) -> str:
    """The text of top-level ODD element ``## <number> ...`` up to the next ``## `` heading."""
    m = re.search(rf"^## {number}\b.*?$(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    return m.group(1) if m else ""


# --- 1. every registered intervention type has its heading -------------------------------------
def missing_intervention_headings(text: str, registry: Iterable[str] | None = None) -> list[str]:
    """Registered intervention types without a ``### Intervention `<type>``` heading."""
    types = interventions_mod.REGISTRY if registry is None else registry
    heads = headings(text)
    out = []
    for t in sorted(types):
        h = INTERVENTION_HEADING.format(t)
        if not any(line == h or line.startswith(h + " ") for line in heads):
            out.append(t)
    return out


def test_every_intervention_type_has_a_heading():
    assert missing_intervention_headings(_read(ODD)) == []


def test_intervention_check_flags_an_unregistered_heading(monkeypatch):
    monkeypatch.setitem(interventions_mod.REGISTRY, "fake_type", interventions_mod.Training)
    assert missing_intervention_headings(_read(ODD)) == ["fake_type"]


# --- 2. every mechanism module is named in a submodel heading ----------------------------------
def mechanism_modules() -> list[str]:
    """Modules of the sim.mechanisms package (as found on its ``__path__`` now)."""
    return sorted(m.name for m in pkgutil.iter_modules(mechanisms_pkg.__path__)
                  if m.name != "__init__")


def missing_mechanism_headings(text: str, modules: Iterable[str] | None = None) -> list[str]:
    """Mechanism modules not named (in backticks) in a heading of ODD element 7 (Submodels)."""
    mods = mechanism_modules() if modules is None else modules
    heads = headings(section(text, 7))
    return [m for m in sorted(mods) if not any(f"`{m}`" in h for h in heads)]


def test_every_mechanism_module_has_a_submodel_heading():
    assert mechanism_modules(), "no mechanism modules found"
    assert missing_mechanism_headings(_read(ODD)) == []


def test_mechanism_check_flags_a_new_module(monkeypatch, tmp_path):
    (tmp_path / "fake_mechanism.py").write_text('"""A mechanism the ODD does not know."""\n')
    monkeypatch.setattr(mechanisms_pkg, "__path__", [*mechanisms_pkg.__path__, str(tmp_path)])
    assert "fake_mechanism" in mechanism_modules()
    assert missing_mechanism_headings(_read(ODD)) == ["fake_mechanism"]


def test_mechanism_check_ignores_names_outside_submodel_headings():
    text = "## 3 Process overview\n### Mechanism `awareness`\n## 7 Submodels\n### Other\n"
    assert missing_mechanism_headings(text, ["awareness"]) == ["awareness"]


# --- 3. every shipped bundle is named -----------------------------------------------------------
def missing_names(text: str, names: Iterable[str]) -> list[str]:
    """Names that do not appear in backticks in ``text``."""
    return [n for n in names if f"`{n}`" not in text]


def test_every_shipped_bundle_is_named():
    names = list(bundle_mod.shipped_bundles())
    assert len(names) >= 4
    assert missing_names(_read(ODD), names) == []


def test_bundle_check_flags_a_new_shipped_bundle(monkeypatch, tmp_path):
    for f in bundle_mod.DATA_DIR.glob("*.toml"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "fake_bundle.toml").write_text(
        'name = "fake_bundle"\nsettings = ["gp"]\n[[elements]]\nname = "e"\nroles = ["nurse"]\n')
    monkeypatch.setattr(bundle_mod, "DATA_DIR", tmp_path)
    assert missing_names(_read(ODD), bundle_mod.shipped_bundles()) == ["fake_bundle"]


# --- 4. every behaviour parameter is named ------------------------------------------------------
def missing_model_parameters(text: str) -> list[str]:
    """Names in ``sim.params.MODEL`` (looked up now) that ODD.md does not mention."""
    return missing_names(text, params_mod.MODEL.names())


def test_every_model_parameter_is_named():
    assert missing_model_parameters(_read(ODD)) == []


def test_parameter_check_flags_a_new_parameter(monkeypatch):
    extra = params_mod.P("fake_parameter", 0.5, "A parameter the ODD does not know.")
    fake = ParamSet(params_mod.MODEL.name, params_mod.MODEL.doc,
                    (*params_mod.MODEL.params, extra))
    monkeypatch.setattr(params_mod, "MODEL", fake)
    assert missing_model_parameters(_read(ODD)) == ["fake_parameter"]


# --- 5. generated tables are current ------------------------------------------------------------
_BLOCK = re.compile(r"<!-- generated: (?P<spec>[^>]*?) -->\n(?P<body>.*?)<!-- end generated -->",
                    flags=re.S)


def _param_set(name: str) -> ParamSet:
    from sim.params import MEASUREMENT
    from sim.scenario import OUTPUT, TOP

    if name.startswith("intervention:"):
        return interventions_mod.REGISTRY[name.split(":", 1)[1]].PARAMS
    sets = {"MODEL": params_mod.MODEL, "STRUCTURE": params_mod.STRUCTURE,
            "NETWORK": params_mod.NETWORK, "PATIENTS": params_mod.PATIENTS, "TOP": TOP,
            "OUTPUT": OUTPUT, "MEASUREMENT": MEASUREMENT, "COMMON": interventions_mod.COMMON}
    return sets[name]


def _source(text: str) -> str:
    return "*assumption*" if text == ASSUMPTION else text.replace("|", "/")


def params_markdown(set_name: str, names: list[str]) -> str:
    """A parameter table: every parameter of the set, or only ``names``, in that order."""
    pset = _param_set(set_name)
    chosen = [pset[n] for n in names] if names else list(pset.params)
    lines = ["| parameter | default | allowed (unit) | plausible | meaning | source |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| `{p.name}` | `{p.default!r}` | {p.allowed()} | {p.plausible_text()} "
              f"| {p.doc} | {_source(p.source)} |" for p in chosen]
    return "\n".join(lines) + "\n"


def _fmt(x: float) -> str:
    return f"{x:g}"


def _is_assumption(source: str) -> bool:
    return source.strip().lower().startswith("assumption")


def _num(x: float, source: str) -> str:
    """A number, marked "(a)" when its source is an assumption."""
    return _fmt(x) + (" (a)" if _is_assumption(source) else "")


def _cite(source: str) -> str:
    """A source, with a leading "assumption" in bold."""
    text = source.strip().rstrip(".")
    if _is_assumption(text):
        text = "**assumption**" + text[len("assumption"):]
    return text


def bundles_markdown() -> str:
    """The shipped bundles: settings, elements, cross-boundary elements, harm and its sources."""
    bundles = bundle_mod.shipped_bundles()
    lines = ["| bundle | settings | elements | cross-boundary elements | complexity | evidence "
             "| harm counted in | baseline rate (per patient-week) | relative risk |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, b in bundles.items():
        cross = [e.name for e in b.elements if e.cross_boundary]
        h = b.harm
        cross_txt = f"{len(cross)}: " + ", ".join(f"`{c}`" for c in cross) if cross else "0"
        harm = ("—", "—", "—") if h is None else (
            ", ".join(h.settings),
            _num(h.baseline_rate, h.sources["baseline_rate_per_patient_week"]),
            _num(h.relative_risk, h.sources["relative_risk"]))
        lines.append(f"| `{name}` | {', '.join(b.settings)} | {len(b.elements)} | {cross_txt} "
                     f"| {_num(b.complexity, b.sources['complexity'])} "
                     f"| {_num(b.evidence_strength, b.sources['evidence_strength'])} "
                     f"| {' | '.join(harm)} |")
    lines += ["", "(a): the source is an assumption (to be calibrated or varied in sensitivity "
              "analysis); sources follow.", ""]
    for name, b in bundles.items():
        lines.append(f"- `{name}` — {b.title.rstrip('.')}.")
        if b.harm is None:
            lines.append("  - harm: none declared.")
        else:
            h = b.harm
            lines.append(f"  - harm event: {h.event.rstrip('.')}.")
            lines.append(f"  - baseline rate {_fmt(h.baseline_rate)} per patient-week: "
                         f"{_cite(h.sources['baseline_rate_per_patient_week'])}.")
            lines.append(f"  - relative risk {_fmt(h.relative_risk)}: "
                         f"{_cite(h.sources['relative_risk'])}.")
        lines.append(f"  - complexity {_fmt(b.complexity)}: {_cite(b.sources['complexity'])}; "
                     f"evidence strength {_fmt(b.evidence_strength)}: "
                     f"{_cite(b.sources['evidence_strength'])}.")
        cited = sum(not _is_assumption(e.sources["baseline_fidelity"]) for e in b.elements)
        lines.append(f"  - baseline fidelity of elements: {cited} of {len(b.elements)} cited, "
                     "the rest assumptions.")
    return "\n".join(lines) + "\n"


def role_mix_markdown() -> str:
    """Shares of staff roles per organisation kind (``sim.population.ROLE_MIX``)."""
    from sim.population import ROLE_MIX

    lines = ["| organisation kind | " + " | ".join(ROLES) + " |",
             "| --- |" + " --- |" * len(ROLES)]
    for kind in ORG_KINDS:
        lines.append(f"| {kind} | " + " | ".join(_fmt(ROLE_MIX[kind][r]) for r in ROLES) + " |")
    return "\n".join(lines) + "\n"


def render_block(spec: str) -> str:
    """The current text of a generated block from its spec: ``bundles``, ``role_mix`` or
    ``params SET [NAME ...]``."""
    words = spec.split()
    if words == ["bundles"]:
        return bundles_markdown()
    if words == ["role_mix"]:
        return role_mix_markdown()
    if len(words) >= 2 and words[0] == "params":
        return params_markdown(words[1], words[2:])
    raise ValueError(f"unknown generated block {spec!r}")


def stale_blocks(text: str) -> list[str]:
    """Specs of generated blocks whose text differs from what the code renders now."""
    out = []
    for m in _BLOCK.finditer(text):
        try:
            current = render_block(m.group("spec"))
        except (KeyError, ValueError) as exc:  # a parameter or set that no longer exists
            out.append(f"{m.group('spec')} ({exc})")
            continue
        if m.group("body") != current:
            out.append(m.group("spec"))
    return out


def refresh_blocks(text: str) -> str:
    """``text`` with every generated block re-rendered."""
    return _BLOCK.sub(lambda m: f"<!-- generated: {m.group('spec')} -->\n"
                      f"{render_block(m.group('spec'))}<!-- end generated -->", text)


def test_generated_tables_are_current():
    text = _read(ODD)
    assert "<!-- generated: bundles -->" in text
    assert stale_blocks(text) == [], ("docs/ODD.md is out of date; refresh with "
                                      "`.venv/bin/python tests/test_odd.py --write`")


def test_stale_block_check_flags_a_changed_default_and_a_removed_parameter():
    table = params_markdown("MODEL", ["p_abandon"])
    good = f"<!-- generated: params MODEL p_abandon -->\n{table}<!-- end generated -->\n"
    assert stale_blocks(good) == []
    default = repr(params_mod.MODEL["p_abandon"].default)
    assert stale_blocks(good.replace(f"`{default}`", "`0.123`")) == ["params MODEL p_abandon"]
    gone = "<!-- generated: params MODEL no_such_param -->\nx\n<!-- end generated -->\n"
    assert stale_blocks(gone)[0].startswith("params MODEL no_such_param")
    assert stale_blocks(refresh_blocks(good.replace(f"`{default}`", "`0.123`"))) == []


def test_bundle_block_check_flags_a_new_bundle(monkeypatch, tmp_path):
    text = _read(ODD)
    for f in bundle_mod.DATA_DIR.glob("*.toml"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "fake_bundle.toml").write_text(
        'name = "fake_bundle"\nsettings = ["gp"]\n[[elements]]\nname = "e"\nroles = ["nurse"]\n')
    monkeypatch.setattr(bundle_mod, "DATA_DIR", tmp_path)
    assert "bundles" in stale_blocks(text)


def intervention_sections_without_parameters(text: str) -> list[str]:
    """Intervention types whose ODD subsection lacks the generated table of its parameters."""
    out = []
    for t in sorted(interventions_mod.REGISTRY):
        h = re.escape(INTERVENTION_HEADING.format(t))
        m = re.search(rf"^{h}.*?$(.*?)(?=^#{{2,3}} |\Z)", text, flags=re.M | re.S)
        if not m or f"<!-- generated: params intervention:{t} -->" not in m.group(1):
            out.append(t)
    return out


def test_every_intervention_section_lists_its_parameters(monkeypatch):
    text = _read(ODD)
    assert intervention_sections_without_parameters(text) == []
    monkeypatch.setitem(interventions_mod.REGISTRY, "fake_type", interventions_mod.Training)
    assert intervention_sections_without_parameters(text) == ["fake_type"]


# --- 6. the schedule (ODD element 3) is the phase list of sim/model.py ----------------------
def model_step_titles() -> list[str]:
    """The phases of ``ImplementationModel.step``, by name, from the model's phase list."""
    from sim.model import PHASES

    return [p.name for p in PHASES]


def schedule_mismatch(text: str, titles: list[str] | None = None) -> list[str]:
    """Phases missing from, or out of order in, the ``**N. title**`` list of ODD element 3."""
    titles = model_step_titles() if titles is None else titles
    listed = re.findall(r"^\d+\. \*\*(.+?)\*\*", section(text, 3), flags=re.M)
    return [] if listed == titles else [f"model: {titles}", f"ODD:   {listed}"]


def test_schedule_matches_model_step():
    titles = model_step_titles()
    assert len(titles) >= 8
    assert schedule_mismatch(_read(ODD)) == []


def test_schedule_check_flags_a_reordered_or_new_phase():
    text = _read(ODD)
    titles = model_step_titles()
    swapped = [titles[1], titles[0], *titles[2:]]
    assert schedule_mismatch(text, swapped)
    assert schedule_mismatch(text, [*titles, "a new phase"])


# --- 7. the guide's TOML examples are valid -----------------------------------------------------
def toml_blocks(text: str) -> list[str]:
    """Bodies of the ```toml fenced blocks."""
    return re.findall(r"^```toml\n(.*?)^```", text, flags=re.M | re.S)


def is_bundle_example(block: str) -> bool:
    """Bundle files start with ``name =`` and have ``[[elements]]``; the rest are scenarios."""
    body = "\n".join(line for line in block.splitlines()
                     if line.strip() and not line.lstrip().startswith("#"))
    return body.startswith("name =") and "[[elements]]" in block


def invalid_toml_examples(text: str, base_dir: Path | None = None,
                          deep: bool = False) -> list[str]:
    """One message per invalid example: bundle files and scenario files are validated as such.

    ``deep`` also builds each scenario's world and sets up every strategy (as ``implsim
    validate`` does), which checks targets naming units or organisations.
    """
    from sim.simulate import preflight

    base = ROOT / "docs" if base_dir is None else base_dir
    out = []
    for i, block in enumerate(toml_blocks(text)):
        try:
            data = tomllib.loads(block)
            if is_bundle_example(block):
                bundle_from_dict(data, f"guide.md toml block {i}")
            else:
                sc = scenario_from_dict(data, f"guide.md toml block {i}", base)
                if deep:
                    preflight(sc)
        except (tomllib.TOMLDecodeError, InputError) as exc:
            first = block.strip().splitlines()[0] if block.strip() else ""
            out.append(f"block {i} ({first!r}): {exc}")
    return out


def test_guide_toml_examples_are_valid():
    text = _read(GUIDE)
    blocks = toml_blocks(text)
    assert sum(map(is_bundle_example, blocks)) >= 1, "the guide has no bundle example"
    assert sum(not is_bundle_example(b) for b in blocks) >= 5, "too few scenario examples"
    assert invalid_toml_examples(text, deep=True) == []


def test_toml_check_flags_bad_examples():
    good_bundle = ('name = "b"\nsettings = ["gp"]\n[[elements]]\nname = "e"\n'
                   'roles = ["nurse"]\n')
    good_scenario = 'name = "s"\nweeks = 10\n'
    fence = "```toml\n{}```\n"
    assert invalid_toml_examples(fence.format(good_bundle) + fence.format(good_scenario)) == []
    bad = [
        good_bundle.replace('"nurse"', '"surgeon"'),  # unknown role
        good_bundle + "[harm]\nevent = \"x\"\n",  # harm without rate and relative risk
        good_scenario + "colour = 3\n",  # unknown top-level key
        good_scenario + "[parameters]\np_abandon = 2.0\n",  # out of range
        good_scenario + "[[strategies]]\nname = \"x\"\n[[strategies.interventions]]\n"
                        "type = \"massage\"\n",  # unknown intervention type
        "name = = 1\n",  # not TOML
    ]
    for block in bad:
        assert len(invalid_toml_examples(fence.format(block))) == 1, block


def test_toml_deep_check_flags_a_unit_that_does_not_exist():
    block = ('name = "s"\n[structure]\nwards_per_trust = 2\nmunicipalities_per_trust = 1\n'
             '[[strategies]]\nname = "x"\n[[strategies.interventions]]\ntype = "training"\n'
             'target = { units = ["Ward 99"] }\n')
    text = f"```toml\n{block}```\n"
    assert invalid_toml_examples(text) == []
    assert len(invalid_toml_examples(text, deep=True)) == 1


# --- 8. the guide covers every key a user can write ---------------------------------------------
def _known_keys(data: dict[str, Any]) -> list[str]:
    """The keys a validator accepts, read from its 'unknown key' message."""
    try:
        scenario_from_dict(data, "probe", ROOT)
    except InputError as exc:
        m = re.search(r"known keys are: (.*)$", exc.message)
        assert m, exc.message
        return [k.strip() for k in m.group(1).split(",")]
    raise AssertionError("the probe was accepted")


_EL = {"name": "e", "roles": ["nurse"]}
_B = {"name": "b", "settings": ["gp"], "elements": [_EL]}


def user_keys() -> dict[str, list[str]]:
    """Every key of scenario files, strategies, targets, bundle, element and harm tables."""
    iv = {"type": "training"}
    return {
        "scenario": _known_keys({"zzz": 1}),
        "strategy": _known_keys({"strategies": [{"name": "x", "zzz": 1}]}),
        "target": _known_keys({"strategies": [{"name": "x", "interventions": [
            {**iv, "target": {"zzz": 1}}]}]}),
        "bundle": _known_keys({"bundles": [{**_B, "zzz": 1}]}),
        "element": _known_keys({"bundles": [{**_B, "elements": [{**_EL, "zzz": 1}]}]}),
        "harm": _known_keys({"bundles": [{**_B, "harm": {"zzz": 1}}]}),
        "intervention (common)": interventions_mod.COMMON.names(),
        "intervention types": sorted(interventions_mod.REGISTRY),
        "target rules": list(RULES),
        "organisation kinds": list(ORG_KINDS),
        "roles": list(ROLES),
        "network": params_mod.NETWORK.names(),
    }


def mentions_key(text: str, key: str) -> bool:
    """Whether ``text`` has the key in backticks: `key`, `[key]`, `key = ...`, `[section] key`."""
    k = re.escape(key)
    return re.search(rf"`(\[[\w.]+\] )?(\[{k}\]|{k})( = [^`]*)?`", text) is not None


def guide_gaps(text: str, keys: dict[str, list[str]] | None = None) -> list[str]:
    """Keys the guide never mentions in backticks."""
    keys = user_keys() if keys is None else keys
    return [f"{group}: {k}" for group, names in keys.items() for k in names
            if not mentions_key(text, k)]


def test_guide_names_every_key():
    keys = user_keys()
    assert "launch" in keys["strategy"] and "elements" in keys["bundle"]
    assert guide_gaps(_read(GUIDE), keys) == []


def test_guide_key_check_flags_a_new_key():
    text = _read(GUIDE)
    assert mentions_key("`[network]`, `[network] file`, `unit_level = false`", "network")
    assert mentions_key("`[network] file`", "file")
    assert not mentions_key("`file_name`, the network", "network")
    assert guide_gaps(text, {"strategy": ["name", "brand_new_key"]}) == [
        "strategy: brand_new_key"]


# --- 9. the guide's Python examples run ---------------------------------------------------------
def python_blocks(text: str) -> list[str]:
    """Bodies of the ```python fenced blocks."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.M | re.S)


def test_guide_python_examples_run(monkeypatch, tmp_path):
    blocks = python_blocks(_read(GUIDE))
    assert blocks, "the guide has no Python example"
    monkeypatch.chdir(ROOT)
    for i, code in enumerate(blocks):
        scope: dict[str, Any] = {"__name__": f"guide_example_{i}", "OUT": tmp_path}
        exec(compile(code, f"guide.md python block {i}", "exec"), scope)


# --- refresh --------------------------------------------------------------------------------
def _main(argv: list[str]) -> int:
    text = _read(ODD)
    if "--write" in argv:
        new = refresh_blocks(text)
        if new != text:
            ODD.write_text(new, encoding="utf-8")
            print(f"refreshed {ODD}")
        else:
            print(f"{ODD} is current")
        return 0
    stale = stale_blocks(text)
    print("stale: " + ", ".join(stale) if stale else "all generated blocks are current")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

"""Fuzzing every input file kind: it loads, or it is one line naming the file (issue 17).

Each case mutates a valid shipped file (keys dropped or added, values of the wrong type, lists
and tables where strings belong, huge, negative and NaN numbers, deep nesting, unicode, empty
files, binary garbage, truncation) and runs the kind's loader in this process. The property:
the loader returns, or raises :class:`InputError` whose message is one line and names the
mutated file (or the file it references that is at fault). Any other exception (a traceback
for the user) fails the test.

The fast job runs a few examples per kind (derandomized, so every run tries the same cases);
the slow job (``pytest -m slow tests/test_fuzz.py -s``) runs ``SLOW_EXAMPLES`` per kind and
prints how many cases of each kind loaded and how many were refused.
"""

from __future__ import annotations

import copy
import csv
import functools
import io
import math
import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from deadline import deadline
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.bundles.bundle import load_bundle_file
from sim.calibrate import load_calibration
from sim.calibrate.evidence import load_evidence
from sim.calibrate.joint import load_joint
from sim.calibrate.observed import read_adoption_times, read_aggregate
from sim.calibrate.scenario_file import dumps
from sim.errors import InputError
from sim.experiment import load_experiment
from sim.networks.loaders import load_network
from sim.scenario import load_scenario
from sim.sensitivity import load_spec
from sim.simulate import preflight

REPO = Path(__file__).resolve().parent.parent
#: Examples per file kind: the fast job, and the slow job (7 kinds x 450 = 3,150 cases).
FAST_EXAMPLES = 25
SLOW_EXAMPLES = 450
#: A case taking longer than this (seconds) counts as a hang (the slow job averages < 0.2 s).
CASE_SECONDS = 120

# --- the corpus: shipped files, copied so relative references resolve ---------------------


@dataclass(frozen=True)
class Kind:
    """One file kind: its seed files (relative to the corpus) and its loader.

    A seed's suffix picks its mutations (TOML, CSV or GraphML).
    """

    name: str
    seeds: tuple[str, ...]
    load: Callable[[Path, Path], Any]  # (mutated file, original seed) -> loaded object


def _load_network(path: Path, seed_file: Path) -> Any:
    mi = seed_file.parent
    if path.suffix == ".graphml":
        return load_network(path)
    if seed_file.name == "doctors.csv":  # the node table mutated, the edges intact
        return load_network(mi / "nominations.csv", path, node_id_column="doctor")
    return load_network(path, mi / "doctors.csv", node_id_column="doctor")


def _load_observed(path: Path, seed_file: Path) -> Any:
    if seed_file.name == "doctors.csv":
        return read_adoption_times(path, seed_file.parent / "nominations.csv",
                                   id_column="doctor", time_column="adoption_month",
                                   periods=17, bundle="tetracycline")
    return read_aggregate(path)


@functools.cache
def _seed_structure(seed_file: Path) -> dict[str, Any]:
    return load_scenario(seed_file).structure


def _validate_scenario(path: Path, seed_file: Path) -> Any:
    """What ``implsim validate`` does: load, then build the world when the structure is the seed's.

    Building reads the files the scenario names (network, pathways, culture). A structure made
    larger is the resource preflight's to refuse (issue 17), not a question of types.
    """
    scenario = load_scenario(path)
    if scenario.structure == _seed_structure(seed_file):
        preflight(scenario)
    return scenario


def _load_calibration(path: Path, seed_file: Path) -> Any:
    """A calibration to observed data, a joint calibration, or one evidence target of it."""
    if seed_file.parent.name == "evidence":
        return load_evidence(path)
    if seed_file.name == "evidence_fit.toml":
        return load_joint(path)
    return load_calibration(path)


MI = "sim/networks/data/medical_innovation"
KINDS = {
    "scenario": Kind("scenario", ("scenarios/default.toml", "experiments/measurement.toml",
                                  "experiments/antibiotics_first.toml",
                                  "experiments/medical_innovation.toml",
                                  "calibration/scenarios/medication_review_learning_network.toml"),
                     _validate_scenario),
    "bundle": Kind("bundle", ("bundles/antibiotic_stewardship.toml",
                              "bundles/medication_list_accuracy.toml",
                              "bundles/mental_health_patient_involvement.toml",
                              "bundles/central_line_infection.toml"),
                   lambda p, s: load_bundle_file(p)),
    "network": Kind("network", (f"{MI}/nominations.csv", f"{MI}/doctors.csv",
                                f"{MI}/network.graphml"), _load_network),
    "experiment": Kind("experiment", ("experiments/compare_support.toml",
                                      "experiments/antibiotics_first_transfer.toml"),
                       lambda p, s: load_experiment(p)),
    "sensitivity": Kind("sensitivity", ("experiments/sa_catchment.toml",),
                        lambda p, s: load_spec(p)),
    "calibration": Kind("calibration", ("calibration/medication_review_nursing_homes.toml",
                                        "calibration/medical_innovation.toml",
                                        "calibration/evidence_fit.toml",
                                        "calibration/evidence/wathne_2018_guideline_adherence.toml",
                                        "calibration/evidence/forsetlund_2009_educational_"
                                        "meetings.toml"),
                        _load_calibration),
    "observed": Kind("observed", ("calibration/data/medication_review/indication_recorded.csv",
                                  f"{MI}/doctors.csv"), _load_observed),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A copy of the shipped files each kind starts from, laid out as in the repository."""
    root = tmp_path_factory.mktemp("corpus")
    shutil.copytree(REPO / "experiments", root / "experiments",
                    ignore=shutil.ignore_patterns("cluster"))
    shutil.copytree(REPO / "calibration", root / "calibration",
                    ignore=shutil.ignore_patterns("posterior"))
    (root / "calibration" / "fuzz-evidence").mkdir()
    (root / "calibration" / "fuzz-evidence" / "designs").symlink_to("../evidence/designs")
    shutil.copytree(REPO / MI, root / MI)
    shutil.copytree(REPO / "sim" / "scenarios", root / "scenarios")
    shutil.copytree(REPO / "sim" / "bundles" / "data", root / "bundles")
    graph = load_network(root / MI / "nominations.csv", root / MI / "doctors.csv",
                         node_id_column="doctor")
    for _, _, data in graph.edges(data=True):
        data.pop("relations", None)  # GraphML has no list type
    nx.write_graphml(graph, root / MI / "network.graphml")
    return root


# --- values and mutations ----------------------------------------------------------------


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


SPECIAL = [[], {}, "", " ", "nan", "inf", "-1", -1, 0, 1, 2, 2**63 - 1, -(2**63), 10**15, 1e308,
           -1e308, 5e-324, math.nan, math.inf, -math.inf, 0.5, -0.5, 1.5, True, False,
           "default", "training", "system", "unit", "aggregate", "../../etc/passwd",
           "/dev/zero", "/", ".", "x" * 5000, "é∑😀 ward", "\x00", "a\nb", "\ud7ff",
           ["training"], {"type": "training"}, [1, "a"], [[1, 2], [3]], [{}], {"a": {"b": {}}},
           _nested(40)]

WEIRD = st.one_of(
    st.sampled_from(SPECIAL).map(copy.deepcopy),  # a copy: mutations edit what they insert
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.lists(st.text(max_size=8), max_size=3),
    st.dictionaries(st.text(min_size=1, max_size=8), st.integers(-5, 5), max_size=3),
    st.lists(st.integers(-3, 3) | st.floats(allow_nan=True), max_size=4),
)


def _slots(data: Any, path: tuple = ()) -> list[tuple]:
    """Every path to a value inside ``data`` (table keys and array indices)."""
    out = []
    items = data.items() if isinstance(data, dict) else enumerate(data) \
        if isinstance(data, list) else ()
    for key, value in items:
        out.append((*path, key))
        out += _slots(value, (*path, key))
    return out


def _leaves(data: Any) -> list[Any]:
    out = []
    for p in _slots(data):
        v = _get(data, p)
        if not isinstance(v, dict | list):
            out.append(v)
    return out


def _get(data: Any, path: tuple) -> Any:
    for key in path:
        data = data[key]
    return data


@st.composite
def toml_mutation(draw: st.DrawFn, text: str) -> bytes:
    """A mutated TOML file: a few structural edits of its data, or an edit of its text."""
    if draw(st.integers(0, 4)) == 0:
        return draw(text_mutation(text.encode()))
    data = read_toml_text(text)
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(data)
        op = draw(st.sampled_from(["set", "set", "set", "drop", "add", "wrap", "table",
                                   "swap"]))
        if not slots or op == "add":
            target = draw(st.sampled_from([()] + [p for p in slots
                                                  if isinstance(_get(data, p), dict)]))
            table = _get(data, target)
            key = draw(st.sampled_from(["name", "type", "strategy", "format", "file",
                                        "scenario", "bundles", "weeks", "x", "é", "1", ""])
                       | st.text(min_size=1, max_size=6))
            table[key] = draw(WEIRD)
            continue
        path = draw(st.sampled_from(slots))
        parent, key = _get(data, path[:-1]), path[-1]
        if op == "drop":
            del parent[key]
        elif op == "set":
            parent[key] = draw(WEIRD)
        elif op == "wrap":
            parent[key] = [parent[key]]
        elif op == "table":
            parent[key] = {"value": parent[key]}
        else:  # another value of the same file in this place: type confusion between fields
            leaves = _leaves(data)
            parent[key] = draw(st.sampled_from(leaves)) if leaves else draw(WEIRD)
    try:
        return dumps(data).encode()
    except (TypeError, ValueError):  # not writable as TOML (a key of an array of tables)
        return text.encode()


def read_toml_text(text: str) -> dict[str, Any]:
    import tomllib

    return tomllib.loads(text)


CELLS = st.sampled_from(["", " ", "nan", "NaN", "inf", "-inf", "-1", "0", "1", "1.5", "1e400",
                         "99999999999999999999", "-0", "0x10", "1_000", "é∑😀", "\x00",
                         "a,b", '"', "x" * 3000, "none", "all", "gp", "hospital"]) \
    | st.text(max_size=12)


@st.composite
def csv_mutation(draw: st.DrawFn, raw: bytes) -> bytes:
    """A mutated CSV file: cells, rows and columns edited, or its text."""
    if draw(st.integers(0, 3)) == 0:
        return draw(text_mutation(raw))
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["cell", "cell", "cell", "drop_col", "drop_row", "add_row",
                                   "ragged", "header", "dup_col", "only_header"]))
        if not rows:
            rows = [[draw(CELLS)]]
        r = draw(st.integers(0, len(rows) - 1))
        if op == "cell" and rows[r]:
            rows[r][draw(st.integers(0, len(rows[r]) - 1))] = draw(CELLS)
        elif op == "drop_col" and rows[0]:
            c = draw(st.integers(0, len(rows[0]) - 1))
            rows = [row[:c] + row[c + 1:] for row in rows]
        elif op == "drop_row":
            del rows[r]
        elif op == "add_row":
            rows.insert(r, [draw(CELLS) for _ in rows[0]] if rows[0] else [""])
        elif op == "ragged":
            rows[r] = rows[r] + [draw(CELLS)] if draw(st.booleans()) else rows[r][:-1]
        elif op == "header" and rows[0]:
            rows[0][draw(st.integers(0, len(rows[0]) - 1))] = draw(CELLS)
        elif op == "dup_col" and rows[0]:
            rows = [row + row[:1] for row in rows]
        elif op == "only_header":
            rows = rows[:1]
    out = io.StringIO()
    csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))).writerows(rows)
    return out.getvalue().encode()


GRAPHML_EDITS = [
    ('attr.type="long"', 'attr.type="double"'), ('attr.type="long"', 'attr.type="boolean"'),
    ('attr.type="long"', 'attr.type="string"'), ('attr.type="int"', 'attr.type="string"'),
    ('attr.type="string"', 'attr.type="int"'), ('attr.type="string"', 'attr.type="banana"'),
    ('edgedefault="directed"', 'edgedefault="sideways"'),
    ('edgedefault="directed"', 'edgedefault="undirected"'), ("<node ", "<nodes "),
    ('source="', 'source="nobody-'), ('target="', 'tar="'), ("<edge ", "<node "),
    ("</graph>", "<graph><graph>" + "<x>" * 2000 + "</x>" * 2000 + "</graph></graph></graph>"),
    ('<?xml version=\'1.0\' encoding=\'utf-8\'?>', '<?xml version="1.0"?><!DOCTYPE g [<!ENTITY e '
     'SYSTEM "file:///etc/passwd">]>'),
    ("<data ", '<data key="nokey" '), (">1<", ">NaN<"), (">1<", ">-inf<"), (">1<", ">x<"),
    ("</graphml>", ""), ("<graph ", "<graph id=\"\" "), ('id="', 'id="\u00e9'),
]


@st.composite
def graphml_mutation(draw: st.DrawFn, raw: bytes) -> bytes:
    """A mutated GraphML file: an edit of its declarations or elements, or of its bytes."""
    if draw(st.integers(0, 2)) == 0:
        return draw(text_mutation(raw))
    text = raw.decode()
    for _ in range(draw(st.integers(1, 3))):
        old, new = draw(st.sampled_from(GRAPHML_EDITS))
        count = draw(st.sampled_from([1, 1, 5, -1]))
        text = text.replace(old, new, count)
    return text.encode()


@st.composite
def text_mutation(draw: st.DrawFn, raw: bytes) -> bytes:
    """Byte-level damage: empty, garbage, truncated, spliced, re-encoded, deeply nested."""
    op = draw(st.sampled_from(["empty", "garbage", "truncate", "splice", "flip", "latin1",
                               "bom", "nul", "deep", "deep_table", "repeat"]))
    if op == "empty":
        return draw(st.sampled_from([b"", b" ", b"\n\n", b"\xef\xbb\xbf"]))
    if op == "garbage":
        return draw(st.binary(min_size=1, max_size=300))
    at = draw(st.integers(0, len(raw)))
    if op == "truncate":
        return raw[:at]
    if op == "splice":
        return raw[:at] + draw(st.binary(max_size=20)) + raw[at:]
    if op == "flip" and raw:
        i = min(at, len(raw) - 1)
        return raw[:i] + bytes([raw[i] ^ draw(st.integers(1, 255))]) + raw[i + 1:]
    if op == "latin1":
        return raw.decode("utf-8", "replace").replace("a", "æ").encode("latin-1", "replace")
    if op == "bom":
        return b"\xef\xbb\xbf" + raw
    if op == "nul":
        return raw[:at] + b"\x00" + raw[at:]
    n = draw(st.sampled_from([33, 500, 2000, 20000]))
    if op == "deep":
        return raw + b"\nzz = " + b"[" * n + b"]" * n + b"\n"
    if op == "deep_table":
        return raw + b"\nzz = " + b"{a=" * n + b"1" + b"}" * n + b"\n"
    return raw * draw(st.integers(2, 4))  # "repeat": every key given twice


# --- the property ------------------------------------------------------------------------

COUNTS: dict[str, Counter] = {k: Counter() for k in KINDS}




def fuzzed_path(seed_file: Path) -> Path:
    """Where a mutated copy of ``seed_file`` is written: beside it, so relative paths resolve.

    An evidence file goes to a directory of its own under its own name (its name must be its
    file name, and the joint calibration reads every file of the evidence directory).
    """
    if seed_file.parent.name == "evidence":
        return seed_file.parent.with_name("fuzz-evidence") / seed_file.name
    return seed_file.with_name(f"fuzzed-{seed_file.name}")


def check_one(kind: Kind, corpus: Path, seed_name: str, data: bytes) -> None:
    """Load ``data`` as a file of ``kind`` beside ``seed_name``: loads, or one line naming it."""
    seed_file = corpus / seed_name
    path = fuzzed_path(seed_file)
    path.write_bytes(data)
    try:
        with deadline(CASE_SECONDS, "a case still loading"):
            kind.load(path, seed_file)
    except InputError as exc:
        message = str(exc)
        assert "\n" not in message and "\r" not in message, message
        # What is at fault: the mutated file, or a path it names that exists (the data file a
        # calibration reads, a directory or device given as one), at the start of the message.
        named = message.split(": ")[0]
        assert path.name in message or os.path.lexists(named), message
        COUNTS[kind.name]["refused"] += 1
    else:
        COUNTS[kind.name]["loaded"] += 1


def mutated(kind: Kind, corpus: Path, draw: st.DrawFn) -> tuple[str, bytes]:
    seed_name = draw(st.sampled_from(kind.seeds))
    raw = (corpus / seed_name).read_bytes()
    if seed_name.endswith(".toml"):
        return seed_name, draw(toml_mutation(raw.decode()))
    if seed_name.endswith(".graphml"):
        return seed_name, draw(graphml_mutation(raw))
    return seed_name, draw(csv_mutation(raw))


def _fuzz(kind_name: str, examples: int, corpus: Path) -> None:
    kind = KINDS[kind_name]

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(st.data())
    def run(data: st.DataObject) -> None:
        seed_name, content = mutated(kind, corpus, data.draw)
        check_one(kind, corpus, seed_name, content)

    run()


def test_the_seeds_load_unchanged(corpus):
    """The property is only worth something if the unmutated files load."""
    for kind in KINDS.values():
        for seed_name in kind.seeds:
            check_one(kind, corpus, seed_name, (corpus / seed_name).read_bytes())
    assert all(c["loaded"] >= len(KINDS[k].seeds) and not c["refused"]
               for k, c in COUNTS.items()), COUNTS
    for c in COUNTS.values():
        c.clear()


@pytest.mark.parametrize("kind_name", list(KINDS))
def test_fuzzed_files_load_or_give_one_line(corpus, kind_name):
    _fuzz(kind_name, FAST_EXAMPLES, corpus)
    assert sum(COUNTS[kind_name].values()) >= FAST_EXAMPLES


@pytest.mark.slow
@pytest.mark.parametrize("kind_name", list(KINDS))
def test_many_fuzzed_files_load_or_give_one_line(corpus, kind_name, capsys):
    before = COUNTS[kind_name].copy()
    _fuzz(kind_name, SLOW_EXAMPLES, corpus)
    done = COUNTS[kind_name] - before
    with capsys.disabled():
        print(f"\nfuzz {kind_name}: {sum(done.values())} cases, {done['loaded']} loaded, "
              f"{done['refused']} refused with one line, 0 tracebacks")
    assert sum(done.values()) >= SLOW_EXAMPLES

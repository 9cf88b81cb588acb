"""Every input path checked by type, kind, size and depth before use (issue 17).

Each case is a traceback the reliability review reproduced on the command line; here each is the
real command (``sim.cli.main`` in this process) and must end in exit code 2 and one line naming
the file and the field, or (for names that become file names) in a run that works. Store damage
(a done record that is a list, stray records, ``experiment.json`` of ``[]`` or ``{}``, ``report``
on a file, read-only outputs) is covered in ``test_store_faults.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from deadline import deadline
from test_experiment_batch import cli, one_line

from sim import inputfile
from sim.errors import InputError
from sim.filenames import MAX_STEM_BYTES, file_stem

REPO = Path(__file__).resolve().parent.parent

# Two wards, one bundle, eight weeks: the smallest scenario that runs.
SCENARIO = """\
weeks = 8
bundles = ["antibiotic_stewardship"]
[structure]
hospital_trusts = 1
wards_per_trust = 2
mental_health_units_per_trust = 0
municipalities_per_trust = 0
"""




def error(capsys, *args) -> str:
    """The one line of a command that must fail with exit code 2."""
    with deadline(30, "the command"):
        return one_line(*cli(capsys, *args)[::2])


# --- strings that are lists or tables -----------------------------------------------------


@pytest.mark.parametrize("value", ['["training"]', '{ a = 1 }'], ids=["list", "table"])
def test_an_intervention_type_that_is_not_a_name(tmp_path, capsys, value):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO + f'[[strategies]]\nname = "x"\n[[strategies.interventions]]\n'
                    f"type = {value}\n")
    line = error(capsys, "validate", path)
    assert f"{path}: strategies['x'].interventions[0].type: unknown intervention type" in line


EXPERIMENT = """\
name = "e"
scenario = "s.toml"
[[arms]]
{arm}
"""


@pytest.mark.parametrize("arm, field", [('strategy = ["no extra support"]', "strategy"),
                                        ('strategy = { a = "b" }', "strategy"),
                                        ('strategy = "no extra support"\nname = [1]', "name")],
                         ids=["strategy-list", "strategy-table", "name-list"])
def test_an_arm_strategy_that_is_not_a_name(tmp_path, capsys, arm, field):
    (tmp_path / "s.toml").write_text(SCENARIO)
    path = tmp_path / "e.toml"
    path.write_text(EXPERIMENT.format(arm=arm))
    line = error(capsys, "experiment", path, "--out", tmp_path / "out", "--serial")
    assert f"{path}: arms[0].{field}: must be a strategy name" in line
    assert not (tmp_path / "out").exists()


def test_an_arms_interventions_are_named_by_the_experiment_file(tmp_path, capsys):
    """Not by the base scenario, which is fine: the arm written here is not."""
    (tmp_path / "s.toml").write_text(SCENARIO)
    path = tmp_path / "e.toml"
    path.write_text(EXPERIMENT.format(arm='name = "a"\n[[arms.interventions]]\ntype = "x"'))
    line = error(capsys, "experiment", path, "--out", tmp_path / "out", "--serial")
    assert f"{path}: arms[0].interventions[0].type: unknown intervention type 'x'" in line


def test_an_experiments_overrides_are_named_by_the_experiment_file(tmp_path, capsys):
    (tmp_path / "s.toml").write_text(SCENARIO)
    path = tmp_path / "e.toml"
    path.write_text(EXPERIMENT.format(arm='strategy = "no extra support"')
                    + "[overrides.structure]\nward_count = 3\n")
    line = error(capsys, "experiment", path, "--out", tmp_path / "out", "--serial")
    assert f"{path}: overrides.structure.ward_count: unknown key" in line


@pytest.fixture
def calibration(tmp_path) -> Path:
    """A copy of the shipped medication-review calibration with its scenario and data."""
    src = REPO / "calibration"
    shutil.copy(src / "medication_review_nursing_homes.toml", tmp_path / "cal.toml")
    shutil.copytree(src / "scenarios", tmp_path / "scenarios")
    shutil.copytree(src / "data", tmp_path / "data")
    return tmp_path / "cal.toml"


def _edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize("value", ['["aggregate"]', '{ a = 1 }'], ids=["list", "table"])
def test_a_calibration_data_format_that_is_not_a_name(calibration, capsys, value):
    _edit(calibration, 'format = "aggregate"', f"format = {value}")
    line = error(capsys, "calibrate", calibration, "--out", calibration.parent / "out")
    assert f"{calibration}: data.indication.format: must be one of aggregate, adoption_times" \
        in line


def test_a_calibration_data_file_that_does_not_exist_names_the_field(calibration, capsys):
    _edit(calibration, "data/medication_review/indication_recorded.csv", "data/missing.csv")
    line = error(capsys, "calibrate", calibration, "--out", calibration.parent / "out")
    assert f"{calibration}: data.indication.file: file not found: " in line


# --- nesting depth ------------------------------------------------------------------------


@pytest.mark.parametrize("depth, nested", [(2000, "[{}]"), (2000, "{{a = {}}}"),
                                            (inputfile.MAX_DEPTH + 2, "[{}]")],
                         ids=["array-2000", "inline-table-2000", "array-past-limit"])
def test_deep_nesting_is_one_line(tmp_path, capsys, depth, nested):
    value = "1"
    for _ in range(depth):
        value = nested.format(value)
    path = tmp_path / "deep.toml"
    path.write_text(f"name = \"deep\"\nx = {value}\n")
    line = error(capsys, "validate", path)
    assert f"{path}: " in line and "nested" in line and str(inputfile.MAX_DEPTH) in line


# --- file kinds and sizes -----------------------------------------------------------------


def test_a_device_as_scenario_is_refused_before_reading(capsys):
    line = error(capsys, "validate", "/dev/zero")
    assert "/dev/zero: is a character device, not a regular file; give a scenario file" in line


@pytest.mark.parametrize("name", ["s.toml", "b.toml", "s.csv"])
def test_a_named_pipe_is_refused_without_hanging(tmp_path, capsys, name):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    if name == "s.toml":
        line = error(capsys, "validate", fifo)
    elif name == "b.toml":  # a bundle file named by a scenario
        path = tmp_path / "with-bundle.toml"
        path.write_text(f'bundles = ["{name}"]\n')
        line = error(capsys, "validate", path)
    else:  # a network edge list named by a scenario: read when the world is built
        path = tmp_path / "net.toml"
        path.write_text(f'bundles = ["antibiotic_stewardship"]\n[network]\nfile = "{name}"\n')
        line = error(capsys, "validate", path)
    assert f"{fifo}: is a named pipe (FIFO), not a regular file" in line


@pytest.mark.parametrize("content", [None, b"unit,teamwork_positive\x00\n", b"\xff\xfe,a\n"],
                         ids=["named-pipe", "nul-byte", "not-utf8"])
def test_a_culture_file_that_cannot_be_read_is_one_line(tmp_path, capsys, content):
    culture = tmp_path / "saq.csv"
    if content is None:
        os.mkfifo(culture)
    else:
        culture.write_bytes(content)
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO + '[measurement]\nculture_file = "saq.csv"\n')
    line = error(capsys, "validate", path)
    assert f"{culture}: " in line


@pytest.mark.parametrize("target", ["/dev/zero", "fifo"])
def test_a_calibration_data_file_that_is_not_a_file(calibration, capsys, target):
    if target == "fifo":
        target = str(calibration.parent / "data.csv")
        os.mkfifo(target)
    _edit(calibration, "data/medication_review/indication_recorded.csv", target)
    line = error(capsys, "calibrate", calibration, "--out", calibration.parent / "out")
    assert f"{target}: is a " in line and "not a regular file; give a CSV file" in line


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path, capsys):
    path = tmp_path / "big.toml"
    with path.open("wb") as fh:  # sparse: costs no disk
        fh.truncate(inputfile.LIMITS["toml"] + 1)
    line = error(capsys, "validate", path)
    assert f"{path}: is 16.0 MiB, above the 16.0 MiB limit of a scenario file" in line


def test_a_file_that_grows_past_the_limit_while_read_is_refused(tmp_path, monkeypatch):
    """The limit holds for what is read, not only for what stat said."""
    path = tmp_path / "s.toml"
    path.write_text("x" * 100)
    monkeypatch.setattr(inputfile, "check_file", lambda *a, **k: None)
    monkeypatch.setitem(inputfile.LIMITS, "toml", 10)
    with pytest.raises(InputError, match="above the 10 bytes limit of a scenario file"):
        inputfile.read_bytes(path, "scenario")


@pytest.mark.parametrize("damage, says", [
    ("fifo", "is a named pipe (FIFO), not a regular file"),
    ("[" * 100_000 + "]" * 100_000, "damaged done record"),
    ("[" * 40 + "]" * 40, "tables or arrays are nested more than 32 deep"),
], ids=["named-pipe", "nested-100000", "nested-40"])
def test_a_done_record_that_cannot_be_read_is_one_line(tmp_path, capsys, damage, says):
    from test_store_faults import copy_store

    from sim.experiment import load_experiment, run_experiment

    (tmp_path / "s.toml").write_text(SCENARIO)
    exp = tmp_path / "e.toml"
    exp.write_text(EXPERIMENT.format(arm='strategy = "no extra support"'))
    run_experiment(load_experiment(exp), tmp_path / "ref", serial=True, quiet=True)
    out = copy_store(tmp_path / "ref", tmp_path / "out")
    record = out / "done" / "part-00000.json"
    record.unlink()
    if damage == "fifo":
        os.mkfifo(record)
    else:
        record.write_text(damage)
    line = error(capsys, "report", out)
    assert f"{record}: {says}" in line
    assert "move it away to re-run chunk 0" in line


# --- names that become file names ---------------------------------------------------------


def test_file_stems_are_short_stable_and_distinct():
    assert file_stem("no extra support__Trust 1 ward 2") == "no_extra_support__Trust_1_ward_2"
    long_a, long_b = "s" * 315 + "a", "s" * 315 + "b"
    stem = file_stem(long_a)
    assert len(stem.encode()) <= MAX_STEM_BYTES
    assert stem == file_stem(long_a) and stem != file_stem(long_b)
    assert len(file_stem("æ" * 300).encode()) <= MAX_STEM_BYTES  # bytes, not characters


def test_a_long_strategy_name_charted_by_spc_units_runs(tmp_path, capsys):
    name = "s" * 315
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO + f'[[strategies]]\nname = "{name}"\n')
    out = tmp_path / "out"
    code, _, err = cli(capsys, "run", path, "--out", out, "--quiet",
                       "--spc-units", "Trust 1 hospital ward 1")
    assert code == 0, err
    charts = sorted((out / "spc").iterdir())
    assert len(charts) == 1
    assert len(charts[0].name.encode()) <= MAX_STEM_BYTES + len(".png")


# --- one line whatever the user wrote -----------------------------------------------------


def test_a_message_quoting_a_line_break_stays_one_line(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO + '"a\\nb\\u2028c" = 1\n')
    line = error(capsys, "validate", path)
    assert "a\\nb\\u2028c: unknown key" in line


@pytest.mark.parametrize("kind, value, shown", [("string", "heavy", "'heavy'"),
                                               ("double", "NaN", "nan"), ("double", "-2", "-2.0"),
                                               ("double", "0", "0.0")])
def test_a_graphml_weight_that_is_not_a_positive_number_is_one_line(tmp_path, kind, value,
                                                                    shown):
    from sim.networks.loaders import load_graphml

    path = tmp_path / "g.graphml"
    path.write_text('<?xml version="1.0"?><graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
                    f'<key id="w" for="edge" attr.name="weight" attr.type="{kind}"/>'
                    '<graph edgedefault="undirected"><node id="a"/><node id="b"/>'
                    f'<edge source="a" target="b"><data key="w">{value}</data></edge>'
                    "</graph></graphml>")
    with pytest.raises(InputError) as err:
        load_graphml(path)
    assert str(err.value).startswith(f"{path}: weight: edge 'a' -> 'b': weight must be a "
                                     "positive number")
    assert str(err.value).endswith(f"got {shown}")


# --- a full disk, a read-only file system ---------------------------------------------------


@contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A real tmpfs of ``size`` mounted at ``where`` (root only; the test is skipped elsewhere)."""
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


@pytest.fixture
def full_disk(tmp_path) -> Iterator[Path]:
    """A 16 KiB file system: a run's tables do not fit."""
    with tmpfs(tmp_path / "full", "16k") as mount:
        yield mount


def test_a_run_on_a_full_disk_is_one_line(tmp_path, capsys, full_disk):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    line = error(capsys, "run", path, "--out", full_disk / "out", "--quiet", "--no-plots")
    assert "No space left on device; check that the output directory is writable and its " \
           "disk has space" in line


def test_report_of_a_store_on_a_read_only_file_system_is_one_line(tmp_path, capsys):
    from sim.experiment import load_experiment, run_experiment

    (tmp_path / "s.toml").write_text(SCENARIO)
    exp = tmp_path / "e.toml"
    exp.write_text(EXPERIMENT.format(arm='strategy = "no extra support"'))
    with tmpfs(tmp_path / "fs", "4m") as mount:
        run_experiment(load_experiment(exp), mount / "store", serial=True, quiet=True)
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        line = error(capsys, "report", mount / "store")
    assert "cannot write the report (Read-only file system)" in line


def test_run_into_an_existing_directory_on_a_read_only_file_system_is_one_line(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    with tmpfs(tmp_path / "fs", "1m") as mount:
        (mount / "out").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        line = error(capsys, "run", path, "--out", mount / "out", "--quiet")
        assert sorted((mount / "out").iterdir()) == []
    assert f"--out: cannot write into {mount / 'out'} (Read-only file system)" in line

"""Strict CSV reading: one reader for networks and observed data, one-line errors."""

from __future__ import annotations

import pytest

from sim.csvfile import read_csv
from sim.errors import InputError


def test_reads_rows_with_lines_and_stripped_cells(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("\ufeff a , b\n\n1, x \n2,y\n")
    table = read_csv(path)
    assert table.header == ["a", "b"]
    assert [(r.number, r.line, r.cells) for r in table.rows] == [
        (1, 3, {"a": "1", "b": "x"}), (2, 4, {"a": "2", "b": "y"})]
    assert table.rows[0].label == "row 1 (line 3)"
    assert read_csv(path).digest == table.digest
    (tmp_path / "crlf.csv").write_bytes(path.read_text().replace("\n", "\r\n").encode())
    assert read_csv(tmp_path / "crlf.csv").digest == table.digest


@pytest.mark.parametrize(("text", "fragment"), [
    ("a,b\n1,2,3\n", "row 1 (line 2) has 3 fields"),
    ("a,a\n1,2\n", "appears twice"),
    ("a,,b\n1,2,3\n", "has no name"),
    ('a,b\n1,"2\n', "malformed CSV"),
])
def test_malformed_files_are_one_line_errors(tmp_path, text, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_csv(path)
    assert fragment in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file_hint_and_required_columns(tmp_path):
    with pytest.raises(InputError, match=r"file not found \(relative"):
        read_csv(tmp_path / "none.csv", hint=" (relative paths are relative to X)")
    (tmp_path / "b.bin").write_bytes(b"a\n\xff\n")
    with pytest.raises(InputError, match="not UTF-8"):
        read_csv(tmp_path / "b.bin")
    path = tmp_path / "c.csv"
    path.write_text("a\n1\n")
    with pytest.raises(InputError, match=r"missing column 'b'; required columns: a, b") as err:
        read_csv(path).require(("a", "b"), "a test table")
    assert err.value.where == f"{path}: b"
    assert read_csv(tmp_path / "c.csv").header == ["a"]

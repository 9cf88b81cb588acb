"""Reading CSV input files strictly, with the project's one-line errors (beside ``tomlfile``).

Network edge lists and node tables, observed uptake and adoption times are all small CSV files
a person wrote; they fail the same ways (missing, not UTF-8, a ragged row, a column named twice,
a required column missing), so they are read in one place and the messages name the file, the
row and line, the column and the fix. Cells and column names are stripped; blank lines skipped.
The file itself passes :mod:`sim.inputfile` (a regular file within the size limit).
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from sim.errors import InputError
from sim.inputfile import read_bytes


@dataclass(frozen=True)
class Row:
    """One data row: its 1-based data-row number, file line and cells by column."""

    number: int
    line: int
    cells: dict[str, str]

    @property
    def label(self) -> str:
        """``row N (line L)`` for messages."""
        return f"row {self.number} (line {self.line})"


@dataclass(frozen=True)
class Table:
    """A read CSV file: header (empty for an empty file), data rows and the text read."""

    where: str
    header: list[str]
    rows: list[Row]
    text: str

    @property
    def digest(self) -> str:
        """SHA-256 of the text with newlines normalised (a changed file is a changed input)."""
        return hashlib.sha256(self.text.replace("\r\n", "\n").replace("\r", "\n")
                              .encode()).hexdigest()

    def require(self, required: tuple[str, ...], what: str = "this file") -> None:
        """Fail naming the first of ``required`` missing from the header."""
        for name in required:
            if name not in self.header:
                raise InputError(f"{self.where}: {name}", f"missing column {name!r}; required "
                                 f"columns: {', '.join(required)} for {what} (found: "
                                 f"{', '.join(self.header) or 'none'})")


def _text(path: Path, where: str, hint: str, kind: str) -> str:
    data = read_bytes(path, "CSV", where, hint, kind=kind)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(where, f"is not UTF-8 text (byte {exc.start}); save it as UTF-8 "
                         "CSV") from None


def read_csv(path: str | Path, hint: str = "", kind: str = "csv") -> Table:
    """Read the CSV file at ``path`` strictly; ``hint`` follows "file not found".

    ``kind`` picks the size limit (:data:`sim.inputfile.LIMITS`: network files may be larger).
    """
    path = Path(path)
    where = str(path)
    text = _text(path, where, hint, kind)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[Row] = []
    try:
        for record in reader:
            cells = [c.strip() for c in record]
            if not any(cells):
                continue
            if header is None:
                header = cells
                for i, name in enumerate(header, start=1):
                    if not name:
                        raise InputError(where, f"column {i} of the header has no name; every "
                                         "column needs a name")
                dup = next((c for c in header if header.count(c) > 1), None)
                if dup is not None:
                    raise InputError(f"{where}: {dup}", "column appears twice in the header; "
                                     "names must be unique")
                continue
            row = Row(len(rows) + 1, reader.line_num, {})
            if len(cells) != len(header):
                raise InputError(where, f"malformed CSV: {row.label} has {len(cells)} fields, "
                                 f"the header has {len(header)} ({', '.join(header)})")
            rows.append(Row(row.number, row.line, dict(zip(header, cells, strict=True))))
    except csv.Error as exc:
        raise InputError(where, f"malformed CSV near line {reader.line_num}: {exc}") from None
    return Table(where, header or [], rows, text)

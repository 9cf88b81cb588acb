"""Observed uptake: the two data formats a calibration compares the model with.

Both formats become one :class:`ObservedSeries`: rows of *period × group × bundle* with a
numerator (cases counted) and a denominator (cases that could have been counted), because that
is what every target compares with a simulated share.

(a) **Aggregate series** (``format = "aggregate"``): a CSV file with columns

    ``period``       when it was measured: a number ≥ 0 (a month index, a week, …; the target
                     says how many weeks one period is)
    ``group``        who was measured: a unit name, an organisation kind (``nursing_home``) or
                     ``all``, matching the target's ``level``
    ``bundle``       the bundle measured (a bundle of the scenario)
    ``numerator``    compliant (or adopting) cases, a whole number ≥ 0
    ``denominator``  eligible cases, a whole number ≥ 1 and ≥ numerator

Other columns (e.g. a ``source`` or ``note`` column) are allowed and ignored.

(b) **Individual adoption times with a network** (``format = "adoption_times"``): a node table
(CSV with an id column and the period in which each person adopted, empty when they did not
adopt within the observed periods; optional group column) and the edge list of the same people
(loaded with :mod:`sim.networks.loaders`, so its checks apply). The series is the cumulative
number of adopters by the end of each period 1..``periods`` out of everybody in the table (per
group when a group column is named): the form in which the Medical Innovation study reports
uptake.

Every problem raises :class:`sim.errors.InputError` naming the file, the row and line, the column
and the fix, so the command line prints one line. Checks that need the model (does a group name
a unit? does a bundle exist?) are made when a target is bound to the scenario
(:mod:`sim.calibrate.targets`), with the same kind of message.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sim.csvfile import Table, read_csv
from sim.errors import InputError

__all__ = ["AGGREGATE_COLUMNS", "ObservedSeries", "read_adoption_times", "read_aggregate"]

#: Columns an aggregate series must have, in the order the docs list them.
AGGREGATE_COLUMNS = ("period", "group", "bundle", "numerator", "denominator")

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


@dataclass
class ObservedSeries:
    """Observed counts: one row per period × group × bundle.

    ``table`` has columns ``period`` (float), ``group`` (str), ``bundle`` (str), ``numerator``
    and ``denominator`` (int) and ``line`` (the file line the row came from, for messages).
    ``source`` names the file, ``digest`` hashes the files read (a changed file is a changed
    calibration).
    """

    source: str
    format: str
    table: pd.DataFrame
    digest: str
    nodes: list[str] = field(default_factory=list)  # format (b): the people in the table

    @property
    def share(self) -> pd.Series:
        """Observed share numerator / denominator per row."""
        return self.table["numerator"] / self.table["denominator"]


def _rows(path: Path) -> tuple[Table, list[tuple[int, dict[str, str]]]]:
    """The table read strictly, and ``(line, cells)`` per data row; empty files refused."""
    table = read_csv(path, hint=" (relative paths are relative to the calibration file)")
    if not table.header:
        raise InputError(table.where, "file is empty; it needs a header row and data rows")
    if not table.rows:
        raise InputError(table.where, "has a header but no data rows")
    return table, [(r.line, r.cells) for r in table.rows]


def _number(text: str, where: str, line: int, column: str, *, whole: bool,
            minimum: float) -> float:
    """Parse one cell as a finite number (a whole one when ``whole``) ≥ ``minimum``."""
    kind = "a whole number" if whole else "a number"
    if not _NUMBER.fullmatch(text):
        raise InputError(f"{where}: {column}", f"line {line}: {text!r} is not {kind}")
    value = float(text)
    if not math.isfinite(value) or (whole and not value.is_integer()):
        raise InputError(f"{where}: {column}", f"line {line}: {text!r} is not {kind}")
    if value < minimum:
        raise InputError(f"{where}: {column}", f"line {line}: {text} is below {minimum:g}; "
                         f"{column} must be {kind} ≥ {minimum:g}")
    return value


def read_aggregate(path: str | Path) -> ObservedSeries:
    """Read and check an aggregate series (format (a)).

    Raises
    ------
    InputError
        On a missing column, an empty or non-numeric cell, a negative count, a denominator of
        0, a numerator above its denominator, or a period × group × bundle given twice.
    """
    path = Path(path)
    where = str(path)
    table, rows = _rows(path)
    table.require(AGGREGATE_COLUMNS, "an aggregate series")
    digest = table.digest
    records = []
    seen: dict[tuple[float, str, str], int] = {}
    for line, cells in rows:
        for col in ("group", "bundle"):
            if not cells[col]:
                raise InputError(f"{where}: {col}", f"line {line}: empty {col}")
        period = _number(cells["period"], where, line, "period", whole=False, minimum=0)
        num = _number(cells["numerator"], where, line, "numerator", whole=True, minimum=0)
        den = _number(cells["denominator"], where, line, "denominator", whole=True, minimum=1)
        if num > den:
            raise InputError(where, f"line {line}: numerator {int(num)} > denominator "
                             f"{int(den)}; the numerator counts compliant cases among the "
                             "denominator's eligible cases")
        key = (period, cells["group"], cells["bundle"])
        if key in seen:
            raise InputError(where, f"line {line}: period {cells['period']}, group "
                             f"{cells['group']!r}, bundle {cells['bundle']!r} is given twice "
                             f"(also line {seen[key]}); give each once")
        seen[key] = line
        records.append({"period": period, "group": cells["group"], "bundle": cells["bundle"],
                        "numerator": int(num), "denominator": int(den), "line": line})
    table = pd.DataFrame.from_records(records)
    return ObservedSeries(where, "aggregate", table, digest)


def read_adoption_times(nodes: str | Path, edges: str | Path | None, *, id_column: str,
                        time_column: str, periods: int, bundle: str,
                        group_column: str = "") -> ObservedSeries:
    """Read individual adoption times (format (b)) as cumulative adopters per period.

    ``periods`` is the observation window: a time must be a whole number in 1..periods, and an
    empty time means *not adopted within the window* (still counted in the denominator).
    ``edges`` (the network of the same people) is loaded to check that it names only people of
    the node table; the model itself loads the network through its scenario.
    """
    nodes = Path(nodes)
    where = str(nodes)
    table, rows = _rows(nodes)
    required = (id_column, time_column) + ((group_column,) if group_column else ())
    table.require(required, "an adoption-time table")
    digest = table.digest
    ids: list[str] = []
    times: list[float] = []
    groups: list[str] = []
    lines: list[int] = []
    first: dict[str, int] = {}
    for line, cells in rows:
        node = cells[id_column]
        if not node:
            raise InputError(f"{where}: {id_column}", f"line {line}: empty id")
        if node in first:
            raise InputError(f"{where}: {id_column}", f"line {line}: id {node!r} is given twice "
                             f"(also line {first[node]})")
        first[node] = line
        raw = cells[time_column]
        if raw:
            t = _number(raw, where, line, time_column, whole=True, minimum=1)
            if t > periods:
                raise InputError(f"{where}: {time_column}", f"line {line}: {raw} is after the "
                                 f"last observed period ({periods}); leave the cell empty for "
                                 "people who had not adopted by then, or raise periods")
        else:
            t = math.nan
        if group_column and not cells[group_column]:
            raise InputError(f"{where}: {group_column}", f"line {line}: empty group")
        ids.append(node)
        times.append(t)
        groups.append(cells[group_column] if group_column else "all")
        lines.append(line)
    if edges:
        from sim.networks.loaders import load_edgelist_csv  # checks columns and unknown nodes

        graph = load_edgelist_csv(edges, nodes, directed=True, node_id_column=id_column)
        digest = hashlib.sha256((digest + Path(edges).read_bytes().hex()).encode()).hexdigest()
        if graph.number_of_nodes() != len(ids):
            raise InputError(str(edges), "names people who are not in the node table "
                             f"{where}")
    people = pd.DataFrame({"time": times, "group": groups, "line": lines})
    records = []
    for group, members in people.groupby("group", sort=False):
        for period in range(1, periods + 1):
            records.append({"period": float(period), "group": str(group), "bundle": bundle,
                            "numerator": int((members["time"] <= period).sum()),
                            "denominator": len(members), "line": int(members["line"].iloc[0])})
    return ObservedSeries(where, "adoption_times", pd.DataFrame.from_records(records), digest,
                          nodes=ids)

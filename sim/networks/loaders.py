"""Load real collaboration networks from files into networkx graphs with node attributes.

Supported inputs are CSV edge lists (with an optional CSV node table) and GraphML. Every problem
with a file — missing, unreadable, malformed, missing a column, naming an unknown node, a bad
weight — raises :class:`sim.errors.InputError` naming the file (and the column or field) and saying
what is allowed, so no pandas/networkx/csv traceback reaches the user.

Conventions of the returned graphs:

- node ids are strings;
- a directed edge ``u → v`` means *u named v* (e.g. as an adviser), i.e. *u listens to v*;
- each pair of nodes has at most one edge, with ``weight`` (number of rows/parallel edges joined,
  or the sum of their weights) and, when relations are given, ``relations`` (sorted list of the
  distinct relations); ``relation`` is also set when there is exactly one;
- self-loops are dropped.

:func:`load_medical_innovation` loads the Medical Innovation physician network shipped in
inside the package, ``sim/networks/data/medical_innovation`` (Coleman, Katz & Menzel), with
adoption months; it is found through :mod:`importlib.resources`, so an installed copy finds it.
"""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path
from typing import Any

import networkx as nx

from sim.csvfile import Row, read_csv
from sim.errors import InputError
from sim.inputfile import read_bytes

__all__ = [
    "EDGE_COLUMNS",
    "SUPPORTED_SUFFIXES",
    "load_edgelist_csv",
    "load_graphml",
    "load_medical_innovation",
    "load_network",
    "medical_innovation_dir",
]

#: Columns an edge-list CSV may have; ``source`` and ``target`` are required.
EDGE_COLUMNS = ("source", "target", "relation", "weight")
_REQUIRED_EDGE_COLUMNS = ("source", "target")

#: File suffixes :func:`load_network` understands, and the loader each one uses.
SUPPORTED_SUFFIXES = {".csv": "edge list", ".graphml": "GraphML", ".xml": "GraphML"}

_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")

PathLike = str | os.PathLike[str]


# --------------------------------------------------------------------------------------------
# CSV reading


def _parse_number(text: str) -> int | float | None:
    """Return ``text`` as an int or a finite float, or ``None`` if it is not a plain number."""
    if _INT_RE.fullmatch(text):
        return int(text)
    if _FLOAT_RE.fullmatch(text):
        value = float(text)
        return value if math.isfinite(value) else None
    return None


def _column_values(values: list[str]) -> list[Any]:
    """Convert one column: all ints → ints, all numbers → floats, otherwise strings.

    Empty cells stay empty strings (the caller leaves the attribute out).
    """
    present = [v for v in values if v]
    parsed = [_parse_number(v) for v in present]
    if present and all(isinstance(p, int) for p in parsed):
        return [int(v) if v else "" for v in values]
    if present and all(p is not None for p in parsed):
        return [float(v) if v else "" for v in values]
    return list(values)


# --------------------------------------------------------------------------------------------
# Edge lists


def _load_node_table(path: Path, id_column: str) -> dict[str, dict[str, Any]]:
    """Read a node table: ``{id: {attribute: value}}`` in file order."""
    where = str(path)
    csv_table = read_csv(path, kind="network")
    header, rows = csv_table.header, csv_table.rows
    if not header:
        raise InputError(
            where, f"file is empty; a node table needs a header with column {id_column!r}"
        )
    csv_table.require((id_column,), "a node table")
    nodes: dict[str, dict[str, Any]] = {}
    first_row: dict[str, int] = {}
    for row in rows:
        node = row.cells[id_column]
        if not node:
            raise InputError(
                f"{where}: {id_column}", f"{row.label}: empty id; every node needs an id"
            )
        if node in nodes:
            raise InputError(
                f"{where}: {id_column}",
                f"{row.label}: duplicate id {node!r} (first in row {first_row[node]}); "
                "ids must be unique",
            )
        nodes[node] = {}
        first_row[node] = row.number
    for column in header:
        if column == id_column:
            continue
        converted = _column_values([row.cells[column] for row in rows])
        for row, value in zip(rows, converted, strict=True):
            if value != "":
                nodes[row.cells[id_column]][column] = value
    return nodes


def _positive_weight(where: str, row: Row) -> int | float:
    """Parse the ``weight`` cell of ``row``: a positive finite number."""
    raw = row.cells["weight"]
    value = _parse_number(raw)
    if value is None or value <= 0:
        raise InputError(
            f"{where}: weight", f"{row.label}: weight must be a positive number, got {raw!r}"
        )
    return value


def load_edgelist_csv(
    edges: PathLike,
    nodes: PathLike | None = None,
    *,
    directed: bool = True,
    node_id_column: str = "id",
) -> nx.DiGraph | nx.Graph:
    """Load a network from a CSV edge list and an optional CSV node table.

    Parameters
    ----------
    edges
        CSV file with columns ``source`` and ``target`` (required) and optionally ``relation``
        (e.g. ``advice``) and ``weight`` (a positive number). No other columns are allowed.
        Rows linking the same pair are joined into one edge: ``weight`` is the number of rows, or
        the sum of their weights when there is a ``weight`` column; ``relations`` is the sorted list
        of their distinct non-empty relations (and ``relation`` the relation when there is exactly
        one). Self-loops are dropped. The file may have no rows only when ``nodes`` is given.
    nodes
        Optional CSV node table with an id column (``node_id_column``); every other column becomes
        a node attribute. A column whose non-empty cells are all integers gives ints, all numbers
        gives floats, otherwise strings; empty cells leave the attribute out. Nodes without edges
        are kept. When given, every ``source``/``target`` must be an id in the table.
    directed
        ``True`` (default): a ``DiGraph`` with ``source → target`` edges. ``False``: a ``Graph``;
        rows ``a,b`` and ``b,a`` join into one edge.
    node_id_column
        Name of the id column of the node table (default ``"id"``).

    Returns
    -------
    networkx.DiGraph or networkx.Graph
        Node ids are strings; nodes are in node-table order, then in order of first appearance.

    Raises
    ------
    InputError
        For a missing or unreadable file, malformed CSV, a missing or unknown column, an empty or
        unknown node id, a non-positive or non-numeric weight, or an empty edge list without a node
        table.
    """
    edges_path = Path(edges)
    where = str(edges_path)
    table = _load_node_table(Path(nodes), node_id_column) if nodes is not None else None

    csv_table = read_csv(edges_path, kind="network")
    header, rows = csv_table.header, csv_table.rows
    if not header:
        if table is None:
            raise InputError(
                where,
                "file is empty; an edge list needs a header with columns source, target "
                "(an empty edge list is allowed only with a node table)",
            )
    else:
        csv_table.require(_REQUIRED_EDGE_COLUMNS, "an edge list")
        for column in header:
            if column not in EDGE_COLUMNS:
                raise InputError(
                    f"{where}: {column}",
                    f"unknown column {column!r}; allowed columns: {', '.join(EDGE_COLUMNS)}",
                )
    if not rows and table is None:
        raise InputError(
            where, "has no edges; an empty edge list is allowed only with a node table"
        )
    has_weight = "weight" in header
    has_relation = "relation" in header

    graph: nx.DiGraph | nx.Graph = nx.DiGraph() if directed else nx.Graph()
    if table is not None:
        graph.add_nodes_from(table.items())

    joined: dict[tuple[str, str], tuple[int | float, set[str]]] = {}
    for row in rows:
        ends = []
        for column in ("source", "target"):
            node = row.cells[column]
            if not node:
                raise InputError(
                    f"{where}: {column}",
                    f"{row.label}: empty node id; every edge needs a source and a target",
                )
            if table is not None and node not in table:
                raise InputError(
                    f"{where}: {column}",
                    f"{row.label}: node id {node!r} is not in the node table {str(nodes)!r} "
                    f"(column {node_id_column!r})",
                )
            ends.append(node)
        weight = _positive_weight(where, row) if has_weight else 1
        u, v = ends
        graph.add_nodes_from((u, v))  # keeps the node even if the row is a self-loop
        if u == v:
            continue
        key = (u, v) if directed or (v, u) not in joined else (v, u)
        total, relations = joined.get(key, (0, set()))
        if has_relation and row.cells["relation"]:
            relations.add(row.cells["relation"])
        joined[key] = (total + weight, relations)

    for (u, v), (total, relations) in joined.items():
        attrs: dict[str, Any] = {"weight": total}
        if has_relation:
            attrs["relations"] = sorted(relations)
            if len(relations) == 1:
                attrs["relation"] = next(iter(relations))
        graph.add_edge(u, v, **attrs)
    return graph


# --------------------------------------------------------------------------------------------
# GraphML


def _simple_graph(multi: nx.MultiGraph | nx.MultiDiGraph) -> nx.Graph | nx.DiGraph:
    """Join parallel edges as for edge lists: summed ``weight``, ``relations`` from ``relation``.

    Other edge attributes are kept when all parallel edges agree on them.
    """
    graph: nx.Graph | nx.DiGraph = nx.DiGraph() if multi.is_directed() else nx.Graph()
    graph.graph.update(multi.graph)
    graph.add_nodes_from(multi.nodes(data=True))
    for u, v in {(u, v) for u, v, _ in multi.edges(keys=True)}:
        if graph.has_edge(u, v):
            continue
        datas = list(multi.get_edge_data(u, v).values())
        if len(datas) == 1:
            graph.add_edge(u, v, **datas[0])
            continue
        attrs: dict[str, Any] = {}
        for name in {k for d in datas for k in d} - {"weight", "relation", "relations", "id"}:
            values = [d.get(name) for d in datas]
            if all(val == values[0] for val in values):
                attrs[name] = values[0]
        attrs["weight"] = sum(d.get("weight", 1) for d in datas)
        relations = {d["relation"] for d in datas if d.get("relation") not in (None, "")}
        if relations:
            attrs["relations"] = sorted(relations)
            if len(relations) == 1:
                attrs["relation"] = next(iter(relations))
        graph.add_edge(u, v, **attrs)
    return graph


def _check_weights(graph: nx.Graph, where: str) -> None:
    """Every ``weight`` a GraphML file gives is a positive finite number, as in edge lists.

    Why: a string or NaN weight would fail, or poison tie strengths, far from the file.
    """
    for u, v, data in graph.edges(data=True):
        w = data.get("weight", 1)
        number = isinstance(w, int | float) and not isinstance(w, bool)
        if not number or not math.isfinite(w) or w <= 0:
            hint = "" if number else ' (declare its key attr.type="double")'
            raise InputError(f"{where}: weight", f"edge {u!r} -> {v!r}: weight must be a "
                             f"positive number{hint}, got {w!r}")


def load_graphml(path: PathLike) -> nx.Graph | nx.DiGraph:
    """Load a network from a GraphML file.

    Parameters
    ----------
    path
        GraphML file. Node and edge attributes keep the types the file declares; the file's
        ``edgedefault`` decides whether the graph is directed.

    Returns
    -------
    networkx.Graph or networkx.DiGraph
        Node ids are strings. Self-loops are dropped; parallel edges are joined into one
        (``weight`` summed, counting 1 for an edge without weight; distinct ``relation`` values in
        ``relations``; other attributes kept where the parallel edges agree).

    Raises
    ------
    InputError
        For a missing or unreadable file, malformed XML, or XML that is not valid GraphML.
    """
    file = Path(path)
    where = str(file)
    data = read_bytes(file, "GraphML", where, kind="network")  # a regular file, size bounded
    try:
        graph = nx.parse_graphml(data, node_type=str)
    except ET.ParseError as exc:
        raise InputError(where, f"malformed XML: {exc}; expected a GraphML file") from None
    except OSError as exc:
        raise InputError(where, f"cannot be read: {exc.strerror or exc}") from None
    except (nx.NetworkXError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise InputError(where, f"not valid GraphML: {exc}") from None
    _check_weights(graph, where)
    if graph.is_multigraph():
        graph = _simple_graph(graph)
    graph.remove_edges_from(list(nx.selfloop_edges(graph)))
    return graph


# --------------------------------------------------------------------------------------------
# Dispatch and shipped data


def load_network(
    path: PathLike, nodes: PathLike | None = None, directed: bool = True,
    node_id_column: str = "id",
) -> nx.Graph | nx.DiGraph:
    """Load a network, choosing the reader from the file suffix.

    Parameters
    ----------
    path
        ``.csv`` (edge list, see :func:`load_edgelist_csv`) or ``.graphml``/``.xml`` (see
        :func:`load_graphml`); the suffix is case-insensitive.
    nodes
        Optional CSV node table (id column ``node_id_column``); only for CSV edge lists.
    directed
        Whether a CSV edge list gives a directed graph. A GraphML file declares its own direction,
        so this is not used for GraphML.
    node_id_column
        Name of the node table's id column.

    Returns
    -------
    networkx.Graph or networkx.DiGraph

    Raises
    ------
    InputError
        For an unsupported suffix, a node table given with GraphML, or any error of the reader.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        supported = ", ".join(f"{s} ({kind})" for s, kind in SUPPORTED_SUFFIXES.items())
        raise InputError(
            str(file),
            f"unsupported file type {file.suffix or '(no suffix)'!r}; supported: {supported}",
        )
    if SUPPORTED_SUFFIXES[suffix] == "GraphML":
        if nodes is not None:
            raise InputError(
                str(nodes),
                "a node table is only used with CSV edge lists; GraphML carries node attributes",
            )
        return load_graphml(file)
    return load_edgelist_csv(file, nodes, directed=directed, node_id_column=node_id_column)


def medical_innovation_dir() -> Path:
    """Return the directory of the shipped data, ``sim/networks/data/medical_innovation``.

    Found as package data, so it works from an installed (non-editable) copy as well.
    """
    return Path(str(resources.files("sim.networks") / "data" / "medical_innovation"))


def load_medical_innovation(directory: PathLike | None = None) -> nx.DiGraph:
    """Load the Medical Innovation physician network (Coleman, Katz & Menzel, 1966).

    Parameters
    ----------
    directory
        Directory holding ``doctors.csv`` and ``nominations.csv``; default
        :func:`medical_innovation_dir`.

    Returns
    -------
    networkx.DiGraph
        One node per doctor (id ``CITY-ID``) with int attributes ``city``, ``id_in_city`` and,
        for doctors who adopted within the 17 observed months, ``adoption_month`` (1–17). Edge
        ``u → v``: doctor *u* named *v*; ``relations`` lists the relations (``advice``,
        ``discussion``, ``friendship``) and ``weight`` counts them.

    Raises
    ------
    InputError
        If the files are missing or malformed.
    """
    base = Path(directory) if directory is not None else medical_innovation_dir()
    graph = load_edgelist_csv(
        base / "nominations.csv", base / "doctors.csv", directed=True, node_id_column="doctor"
    )
    graph.graph["name"] = "Medical Innovation (Coleman, Katz & Menzel)"
    return graph

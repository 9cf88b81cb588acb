"""Tests for sim.networks.loaders: Medical Innovation data, GraphML, CSV edge lists, errors."""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from pathlib import Path

import networkx as nx
import pytest

from sim.errors import InputError
from sim.networks.loaders import (
    load_edgelist_csv,
    load_graphml,
    load_medical_innovation,
    load_network,
    medical_innovation_dir,
)

DATA = Path(__file__).resolve().parents[1] / "sim" / "networks" / "data" / "medical_innovation"

# Cumulative share adopted by month 1..17, as published in the data's README.md.
README_CUMULATIVE = [
    0.088, 0.160, 0.232, 0.320, 0.408, 0.496, 0.600, 0.656,
    0.688, 0.696, 0.736, 0.760, 0.784, 0.816, 0.848, 0.864, 0.872,
]  # fmt: skip


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def medinnov() -> nx.DiGraph:
    return load_medical_innovation()


# ------------------------------------------------------------------ Medical Innovation data


def test_shipped_data_is_a_copy_of_the_shared_data() -> None:
    assert medical_innovation_dir().resolve() == DATA.resolve()
    for name in ("doctors.csv", "nominations.csv", "README.md"):
        assert (DATA / name).is_file(), name
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    assert "Medical Innovation" in readme
    assert "copied from the project's shared data" in readme.lower()


def test_medical_innovation_nodes(medinnov: nx.DiGraph) -> None:
    doctors = _rows(DATA / "doctors.csv")
    adopted = [d for d in doctors if d["adoption_month"].strip()]
    # The counts the README states, checked against the CSV itself.
    assert len(doctors) == 125
    assert len(adopted) == 125 - 16 == 109

    assert isinstance(medinnov, nx.DiGraph)
    assert medinnov.number_of_nodes() == len(doctors)
    assert set(medinnov.nodes) == {d["doctor"] for d in doctors}
    for d in doctors:
        attrs = medinnov.nodes[d["doctor"]]
        assert attrs["city"] == int(d["city"]) and isinstance(attrs["city"], int)
        assert attrs["id_in_city"] == int(d["id_in_city"])
        if d["adoption_month"].strip():
            assert attrs["adoption_month"] == int(d["adoption_month"])
            assert isinstance(attrs["adoption_month"], int)
        else:
            assert "adoption_month" not in attrs
    assert sum("adoption_month" in a for _, a in medinnov.nodes(data=True)) == len(adopted)
    assert all("city" in a for _, a in medinnov.nodes(data=True))


def test_medical_innovation_edges(medinnov: nx.DiGraph) -> None:
    noms = _rows(DATA / "nominations.csv")
    assert len(noms) == 450  # as the README states
    relations: dict[tuple[str, str], list[str]] = defaultdict(list)
    for n in noms:
        relations[(n["source"], n["target"])].append(n["relation"])

    assert set(medinnov.edges) == set(relations)
    assert medinnov.number_of_edges() == len(relations)
    for pair, rels in relations.items():
        data = medinnov.edges[pair]
        assert data["relations"] == sorted(set(rels))
        assert data["weight"] == len(rels)
        if len(set(rels)) == 1:
            assert data["relation"] == rels[0]
        else:
            assert "relation" not in data
    seen = {r for d in medinnov.edges.values() for r in d["relations"]}
    assert seen == {"advice", "discussion", "friendship"}
    assert sum(d["weight"] for d in medinnov.edges.values()) == len(noms)


def test_medical_innovation_adoption_curve_matches_readme(medinnov: nx.DiGraph) -> None:
    months = [a.get("adoption_month") for _, a in medinnov.nodes(data=True)]
    n = len(months)
    shares = [sum(m is not None and m <= month for m in months) / n for month in range(1, 18)]
    assert shares == pytest.approx(README_CUMULATIVE, abs=5e-4)
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    assert " ".join(f"{x:.3f}" for x in README_CUMULATIVE[:8]) in readme


def test_medical_innovation_from_other_directory(tmp_path: Path) -> None:
    for name in ("doctors.csv", "nominations.csv"):
        shutil.copy(DATA / name, tmp_path / name)
    g = load_medical_innovation(tmp_path)
    assert g.number_of_nodes() == 125
    with pytest.raises(InputError, match="file not found") as err:
        load_medical_innovation(tmp_path / "nowhere")
    assert "nowhere" in err.value.where


# ------------------------------------------------------------------ GraphML


@pytest.mark.parametrize("directed", [True, False])
def test_graphml_round_trip(tmp_path: Path, directed: bool) -> None:
    g = nx.DiGraph() if directed else nx.Graph()
    g.add_node(1, unit="ICU", staff=12, share=0.25)
    g.add_node(2, unit="ward")
    g.add_node(3)  # isolate, no attributes
    g.add_edge(1, 2, weight=2.5, relation="advice")
    g.add_edge(2, 2)  # self-loop: dropped on load
    path = tmp_path / "net.graphml"
    nx.write_graphml(g, path)

    back = load_graphml(path)
    assert back.is_directed() == directed
    assert set(back.nodes) == {"1", "2", "3"}
    assert back.nodes["1"] == {"unit": "ICU", "staff": 12, "share": 0.25}
    assert isinstance(back.nodes["1"]["staff"], int)
    assert back.nodes["2"] == {"unit": "ward"}
    assert back.nodes["3"] == {}
    assert set(back.edges) == {("1", "2")}
    assert back.edges["1", "2"] == {"weight": 2.5, "relation": "advice"}
    if directed:
        assert not back.has_edge("2", "1")

    xml = tmp_path / "net.XML"
    shutil.copy(path, xml)
    assert set(load_network(xml).edges) == {("1", "2")}


def test_graphml_parallel_edges_are_joined(tmp_path: Path) -> None:
    m = nx.MultiDiGraph()
    m.add_edge("a", "b", relation="advice", weight=2)
    m.add_edge("a", "b", relation="friendship", weight=3)
    m.add_edge("b", "a", relation="advice")
    path = tmp_path / "multi.graphml"
    nx.write_graphml(m, path)
    g = load_graphml(path)
    assert not g.is_multigraph()
    assert g.edges["a", "b"]["weight"] == 5
    assert g.edges["a", "b"]["relations"] == ["advice", "friendship"]
    assert g.edges["b", "a"]["relation"] == "advice"


# ------------------------------------------------------------------ CSV edge lists


def test_csv_edge_list_with_node_table_and_weights(tmp_path: Path) -> None:
    nodes = _write(
        tmp_path / "nodes.csv",
        "id,unit,years,score,note\n"
        "a,ICU,3,0.5,x\n"
        "b,ward,,1,\n"
        "c,ICU,10,2.25,\n"
        "d,ward,1,,lonely\n",
    )
    edges = _write(
        tmp_path / "edges.csv",
        "source,target,relation,weight\n"
        "a,b,advice,1.5\n"
        "a,b,friendship,2\n"
        "b,c,advice,1\n"
        "c,c,advice,4\n",
    )
    g = load_network(edges, nodes)
    assert isinstance(g, nx.DiGraph)
    assert list(g.nodes) == ["a", "b", "c", "d"]  # node-table order, isolate d kept
    assert g.nodes["a"] == {"unit": "ICU", "years": 3, "score": 0.5, "note": "x"}
    assert isinstance(g.nodes["a"]["years"], int)
    assert isinstance(g.nodes["b"]["score"], float)  # column has 0.5, so floats
    assert g.nodes["b"] == {"unit": "ward", "score": 1.0}  # empty cells: attributes absent
    assert "score" not in g.nodes["d"]
    assert set(g.edges) == {("a", "b"), ("b", "c")}  # self-loop c,c dropped
    assert g.edges["a", "b"]["weight"] == pytest.approx(3.5)
    assert g.edges["a", "b"]["relations"] == ["advice", "friendship"]
    assert "relation" not in g.edges["a", "b"]
    assert g.edges["b", "c"] == {"weight": 1, "relations": ["advice"], "relation": "advice"}


def test_csv_undirected_joins_both_directions(tmp_path: Path) -> None:
    edges = _write(tmp_path / "e.csv", "source,target,relation\nx,y,advice\ny,x,friendship\n")
    g = load_edgelist_csv(edges, directed=False)
    assert isinstance(g, nx.Graph) and not g.is_directed()
    assert g.number_of_edges() == 1
    assert g.edges["x", "y"]["weight"] == 2
    assert g.edges["x", "y"]["relations"] == ["advice", "friendship"]
    d = load_edgelist_csv(edges)
    assert d.number_of_edges() == 2


def test_csv_ids_are_strings_and_custom_id_column(tmp_path: Path) -> None:
    nodes = _write(tmp_path / "n.csv", "staff,age\n1,40\n2,50\n03,\n")
    edges = _write(tmp_path / "e.csv", "source,target\n1,2\n2,03\n")
    g = load_edgelist_csv(edges, nodes, node_id_column="staff")
    assert set(g.nodes) == {"1", "2", "03"}
    assert g.nodes["1"] == {"age": 40}
    assert g.nodes["03"] == {}
    assert g.edges["1", "2"]["weight"] == 1


def test_empty_edge_list_allowed_only_with_node_table(tmp_path: Path) -> None:
    nodes = _write(tmp_path / "n.csv", "id,unit\na,ICU\nb,ward\n")
    header_only = _write(tmp_path / "e.csv", "source,target\n")
    blank = _write(tmp_path / "blank.csv", "")
    for edges in (header_only, blank):
        g = load_edgelist_csv(edges, nodes)
        assert set(g.nodes) == {"a", "b"} and g.number_of_edges() == 0
        with pytest.raises(InputError, match="only with a node table") as err:
            load_edgelist_csv(edges)
        assert err.value.where == str(edges)


# ------------------------------------------------------------------ errors


def test_missing_edge_column(tmp_path: Path) -> None:
    edges = _write(tmp_path / "e.csv", "source,dest\na,b\n")
    with pytest.raises(InputError) as err:
        load_edgelist_csv(edges)
    assert err.value.where == f"{edges}: target"
    assert "source, target" in err.value.message
    assert str(edges) in str(err.value)


def test_missing_node_id_column(tmp_path: Path) -> None:
    nodes = _write(tmp_path / "n.csv", "name,unit\na,ICU\n")
    edges = _write(tmp_path / "e.csv", "source,target\na,a\n")
    with pytest.raises(InputError, match="required columns: id") as err:
        load_edgelist_csv(edges, nodes)
    assert err.value.where == f"{nodes}: id"


def test_unknown_edge_column(tmp_path: Path) -> None:
    edges = _write(tmp_path / "e.csv", "source,target,when\na,b,1\n")
    allowed = "allowed columns: source, target, relation, weight"
    with pytest.raises(InputError, match=allowed) as err:
        load_edgelist_csv(edges)
    assert err.value.where == f"{edges}: when"


def test_unknown_node_id_in_edges(tmp_path: Path) -> None:
    nodes = _write(tmp_path / "n.csv", "id\na\nb\nc\n")
    edges = _write(tmp_path / "e.csv", "source,target\na,b\nb,c\nc,zed\n")
    with pytest.raises(InputError) as err:
        load_edgelist_csv(edges, nodes)
    assert err.value.where == f"{edges}: target"
    assert "row 3" in err.value.message
    assert "'zed'" in err.value.message
    assert str(nodes) in err.value.message


def test_duplicate_node_id(tmp_path: Path) -> None:
    nodes = _write(tmp_path / "n.csv", "id\na\nb\na\n")
    edges = _write(tmp_path / "e.csv", "source,target\na,b\n")
    with pytest.raises(InputError, match=r"row 3 .*duplicate id 'a'"):
        load_edgelist_csv(edges, nodes)


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "", "inf", "nan"])
def test_non_positive_or_bad_weight(tmp_path: Path, bad: str) -> None:
    edges = _write(tmp_path / "e.csv", f"source,target,weight\na,b,2\nb,c,{bad}\n")
    with pytest.raises(InputError, match="positive number") as err:
        load_edgelist_csv(edges)
    assert err.value.where == f"{edges}: weight"
    assert "row 2" in err.value.message


def test_empty_node_id_in_edges(tmp_path: Path) -> None:
    edges = _write(tmp_path / "e.csv", "source,target\na,b\n,c\n")
    with pytest.raises(InputError, match=r"row 2.*empty node id") as err:
        load_edgelist_csv(edges)
    assert err.value.where == f"{edges}: source"


@pytest.mark.parametrize("name", ["net.txt", "net.gml", "net"])
def test_unsupported_suffix(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path / name, "source,target\na,b\n")
    with pytest.raises(InputError) as err:
        load_network(path)
    assert err.value.where == str(path)
    for suffix in (".csv", ".graphml", ".xml"):
        assert suffix in err.value.message


def test_node_table_with_graphml_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "g.graphml"
    nx.write_graphml(nx.path_graph(3), path)
    nodes = _write(tmp_path / "n.csv", "id\n0\n")
    with pytest.raises(InputError, match="only used with CSV"):
        load_network(path, nodes)


@pytest.mark.parametrize("name", ["missing.csv", "missing.graphml"])
def test_missing_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with pytest.raises(InputError, match="file not found") as err:
        load_network(path)
    assert err.value.where == str(path)


def test_missing_node_table(tmp_path: Path) -> None:
    edges = _write(tmp_path / "e.csv", "source,target\na,b\n")
    with pytest.raises(InputError, match="file not found") as err:
        load_edgelist_csv(edges, tmp_path / "nodes.csv")
    assert err.value.where == str(tmp_path / "nodes.csv")


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("source,target\na,b\nc,d,e\n", r"row 2 \(line 3\) has 3 fields"),
        ('source,target\na,b\n"c,d\n', "malformed CSV"),
        ('source,target\na,"b"x\n', "malformed CSV near line 2"),
        ("source,source\na,b\n", "appears twice"),
        ("source,,target\na,b,c\n", "has no name"),
    ],
)
def test_malformed_csv(tmp_path: Path, text: str, pattern: str) -> None:
    edges = _write(tmp_path / "e.csv", text)
    with pytest.raises(InputError, match=pattern) as err:
        load_edgelist_csv(edges)
    assert str(edges) in err.value.where


def test_non_utf8_csv(tmp_path: Path) -> None:
    edges = tmp_path / "e.csv"
    edges.write_bytes(b"source,target\n\xff\xfe,b\n")
    with pytest.raises(InputError, match="not UTF-8"):
        load_edgelist_csv(edges)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [("<graphml><graph", "malformed XML"), ("<root/>", "not valid GraphML")],
)
def test_malformed_graphml(tmp_path: Path, text: str, pattern: str) -> None:
    path = _write(tmp_path / "g.graphml", text)
    with pytest.raises(InputError, match=pattern) as err:
        load_graphml(path)
    assert err.value.where == str(path)


def test_shipped_data_is_found_from_a_non_editable_install(tmp_path: Path) -> None:
    """The Medical Innovation data is package data: a copy of what an install ships (the
    modules plus pyproject's package-data globs, away from the source tree) finds it through
    importlib.resources."""
    import shutil
    import subprocess
    import sys
    import tomllib

    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    shipped = list((root / "sim").rglob("*.py"))
    for package, globs in config["tool"]["setuptools"]["package-data"].items():
        base = root.joinpath(*package.split("."))
        shipped += [f for g in globs for f in base.glob(g) if f.is_file()]
    target = tmp_path / "site"
    for f in shipped:
        dest = target / f.relative_to(root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, dest)
    code = ("import sim; from sim.networks.loaders import medical_innovation_dir, "
            "load_medical_innovation; print(sim.__file__); print(medical_innovation_dir()); "
            "print(load_medical_innovation().number_of_nodes())")
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, "
                          f"{str(target)!r}); {code}"], capture_output=True, text=True,
                         check=True, cwd=tmp_path)
    package, data, nodes = out.stdout.split("\n")[:3]
    assert package.startswith(str(target)) and data.startswith(str(target))
    assert int(nodes) > 100

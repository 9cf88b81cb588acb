"""One manifest builder: every result directory records the same provenance the same way."""

from __future__ import annotations

import json

from tiny import TINY_STRUCTURE

from sim import provenance


def test_manifest_has_the_common_head_and_tail():
    m = provenance.manifest({"seed": 3}, command="implsim run", files=["a.csv"])
    assert list(m) == ["command", "created", "seed", "versions", "code_version", "files"]
    assert m["versions"]["numpy"] != "not installed" and m["code_version"]
    assert "command" not in provenance.manifest({})
    assert "files" not in provenance.manifest({})


def test_manifest_text_is_json_with_paths_as_strings(tmp_path):
    text = provenance.manifest_text(provenance.manifest({"out": tmp_path}))
    assert text.endswith("\n") and json.loads(text)["out"] == str(tmp_path)


def test_every_writer_uses_the_builder(tmp_path):
    """implsim run's manifest has the keys every manifest has."""
    from sim.cli import main

    scen = tmp_path / "s.toml"
    scen.write_text("weeks = 4\n" + TINY_STRUCTURE.replace("[overrides.structure]",
                                                           "[structure]"))
    assert main(["run", str(scen), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    m = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert {"command", "created", "versions", "code_version", "files"} <= set(m)
    assert m["command"].startswith("implsim run")

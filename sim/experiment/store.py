"""The results store: one directory per experiment, a partitioned Parquet dataset.

Layout::

    DIR/experiment.json          the experiment as resolved, its fingerprint, seeds, versions
    DIR/runs.parquet             every run: run_id, arm, point, replicate, seed, chunk
    DIR/summary/part-00012.parquet     Proctor outcomes of chunk 12 (one row per run × bundle)
    DIR/timeseries/part-00012.parquet  the time series of chunk 12 (at the chosen level)
    DIR/done/part-00012.json     written last: row counts, sizes and checksums of the parts

Each part file is written to a temporary name and renamed into place, and the done record is
written the same way after both parts, so a chunk is either complete or absent: a batch that is
killed loses at most the chunks in flight, and re-running resumes with the others. A part that
does not match its done record is reported, never silently overwritten or deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from sim import provenance
from sim.errors import InputError
from sim.experiment.design import Experiment, Run

TABLES = ("summary", "timeseries")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_parquet_atomic(df: pd.DataFrame, path: Path) -> None:
    """Write a Parquet file so that readers see all of it or none of it."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    df.to_parquet(tmp, index=False)
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class ResultStore:
    """A directory of results for one experiment."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # --- creating and opening ------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        """Where the experiment manifest lives."""
        return self.root / "experiment.json"

    def exists(self) -> bool:
        """Whether a store was started here."""
        return self.manifest_path.exists()

    def create_or_check(self, experiment: Experiment, runs: list[Run], chunk_size: int) -> int:
        """Start a new store, or check that an existing one belongs to this experiment.

        Returns the chunk size in force (a resumed store keeps its own).
        """
        if self.root.exists() and not self.root.is_dir():
            raise InputError(str(self.root), "exists and is not a directory")
        if self.exists():
            manifest = self.manifest()
            if manifest.get("fingerprint") != experiment.fingerprint():
                stored_code, code = manifest.get("code_version"), provenance.code_version()
                what = ("the experiment file changed since the store was started"
                        if stored_code == code else
                        f"the experiment file or implsim's defaults changed (code version "
                        f"{stored_code} → {code})")
                raise InputError(
                    str(self.root), f"this store holds results of a different version of the "
                    f"experiment (stored fingerprint {manifest.get('fingerprint')}, now "
                    f"{experiment.fingerprint()}): {what}. Use a new --out directory, or "
                    "restore the file to resume")
            return int(manifest["chunk_size"])
        try:
            for sub in ("summary", "timeseries", "done"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(str(self.root), f"cannot create the store: {exc.strerror}") from None
        table = pd.DataFrame([r.__dict__ for r in runs])
        table["chunk"] = table["run_id"] // chunk_size
        write_parquet_atomic(table, self.root / "runs.parquet")
        manifest = provenance.manifest({
            "experiment": experiment.resolved(),
            "fingerprint": experiment.fingerprint(),
            "chunk_size": chunk_size,
            "n_runs": len(runs),
            "n_chunks": int(table["chunk"].max()) + 1 if len(table) else 0,
            "arms": experiment.arm_names,
            "design_points": experiment.points,
        })
        atomic_write_bytes(self.manifest_path, provenance.manifest_text(manifest).encode())
        return chunk_size

    def manifest(self) -> dict[str, Any]:
        """The experiment manifest (clear error when missing or damaged)."""
        try:
            return json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            raise InputError(str(self.root), "no experiment.json here: not an implsim results "
                             "store (run `implsim experiment FILE --out DIR` first)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(str(self.manifest_path), f"damaged ({exc}); it cannot be "
                             "recovered automatically: restore it or start a new store") from None

    def runs(self) -> pd.DataFrame:
        """The run table (run_id, arm, point, replicate, seed, chunk)."""
        try:
            return pd.read_parquet(self.root / "runs.parquet")
        except (FileNotFoundError, OSError, ValueError) as exc:
            raise InputError(str(self.root / "runs.parquet"), f"missing or damaged ({exc})") \
                from None

    # --- chunks --------------------------------------------------------------------------------
    def part(self, table: str, chunk: int) -> Path:
        """Path of a chunk's part file."""
        return self.root / table / f"part-{chunk:05d}.parquet"

    def record(self, chunk: int) -> Path:
        """Path of a chunk's done record."""
        return self.root / "done" / f"part-{chunk:05d}.json"

    def write_chunk(self, chunk: int, run_ids: list[int],
                    tables: dict[str, pd.DataFrame]) -> None:
        """Write a finished chunk: both parts, then the done record (all atomically)."""
        entry: dict[str, Any] = {"chunk": chunk, "run_ids": run_ids,
                                 "finished": datetime.now(UTC).isoformat(timespec="seconds")}
        for name in TABLES:
            path = self.part(name, chunk)
            write_parquet_atomic(tables[name], path)
            entry[name] = {"rows": len(tables[name]), "bytes": path.stat().st_size,
                           "sha256": _sha256(path)}
        atomic_write_bytes(self.record(chunk), (json.dumps(entry) + "\n").encode())

    def done_chunks(self, verify: bool = True) -> set[int]:
        """Chunks whose done record exists and whose parts match it."""
        done = set()
        for rec in sorted((self.root / "done").glob("part-*.json")):
            chunk = int(rec.stem.split("-")[1])
            try:
                entry = json.loads(rec.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise InputError(str(rec), "damaged done record; move it away to re-run chunk "
                                 f"{chunk} (its results are then recomputed)") from None
            if verify:
                for name in TABLES:
                    self._check_part(name, chunk, entry)
            done.add(chunk)
        return done

    def _check_part(self, name: str, chunk: int, entry: dict[str, Any]) -> None:
        path = self.part(name, chunk)
        want = entry.get(name, {})
        if not path.exists():
            raise InputError(str(path), f"missing, but chunk {chunk} is recorded as done in "
                             f"{self.record(chunk)}; move that record away to re-run the chunk")
        if path.stat().st_size != want.get("bytes") or _sha256(path) != want.get("sha256"):
            raise InputError(str(path), f"does not match its record {self.record(chunk)} "
                             "(corrupt or partly written); move both away to re-run chunk "
                             f"{chunk}. Nothing was deleted")

    def read(self, table: str) -> pd.DataFrame:
        """All finished rows of a table, in run order (verified against the done records)."""
        chunks = sorted(self.done_chunks(verify=True))
        if not chunks:
            return pd.DataFrame()
        frames = []
        for c in chunks:
            try:
                frames.append(pq.read_table(self.part(table, c)).to_pandas())
            except (OSError, ValueError) as exc:
                raise InputError(str(self.part(table, c)), f"unreadable Parquet ({exc}); move "
                                 f"it and {self.record(c)} away to re-run chunk {c}") from None
        df = pd.concat(frames, ignore_index=True)
        return df.sort_values(["run_id"], kind="stable").reset_index(drop=True)

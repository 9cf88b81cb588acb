"""The results store: one directory per experiment, a partitioned Parquet dataset.

Layout::

    DIR/experiment.json          the experiment as resolved, its fingerprint, seeds, versions
    DIR/runs.parquet             every run: run_id, arm, point, replicate, seed, chunk
    DIR/summary/part-00012.parquet     Proctor outcomes of chunk 12 (one row per run × bundle)
    DIR/timeseries/part-00012.parquet  the time series of chunk 12 (at the chosen level)
    DIR/clusters/part-00012.parquet    per-cluster sums for the ICC (sim.outcomes.icc)
    DIR/done/part-00012.json     written last: row counts, sizes and checksums of the parts

Each part file is written to a temporary name and renamed into place, and the done record is
written the same way after both parts, so a chunk is either complete or absent: a batch that is
killed loses at most the chunks in flight, and re-running resumes with the others. A part that
does not match its done record is reported, never silently overwritten or deleted.

One driver at a time: :func:`exclusive` holds an advisory ``flock`` on ``DIR/.implsim.lock``
(which names the holder's pid, host, start time and command) for as long as a batch runs, so a
second driver on the same directory is refused with one line instead of mixing or repeating
runs. The operating system drops the lock when the holder dies, so a killed driver never leaves
a lock that blocks the next one; the file is removed on a clean exit. Every record is checked
for its shape when read (a list, an empty object, a stray name or a file where a directory
belongs is a one-line error naming the file and the fix), and each done record carries the
fingerprint of the experiment that wrote it, so runs of another experiment are refused.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import socket
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from sim import provenance
from sim.errors import InputError
from sim.experiment.design import Experiment, Run
from sim.inputfile import check_depth, read_bytes

TABLES = ("summary", "timeseries")
#: Tables added after stores were first written: a done record that lists one has it checked
#: like the others; a chunk of an older store simply lacks it (:meth:`ResultStore.has_table`).
LATER_TABLES = ("clusters",)
#: The lock file of a store (or of any directory a batch writes into).
LOCK_NAME = ".implsim.lock"
#: The temporary names of :func:`atomic_write_bytes` and :func:`write_parquet_atomic`.
TEMP_GLOB = ".*.tmp"
_RECORD_NAME = re.compile(r"part-(\d{5,})\.json")
_locks_unsupported_warned = False


def _lock_holder(fd: int) -> str:
    """Who holds the lock, from what the holder wrote into the lock file."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "it has not yet written its pid"
    return (f"pid {info.get('pid')} on {info.get('host')} since {info.get('since')}: "
            f"{info.get('command')}")


@contextmanager
def exclusive(directory: str | Path) -> Iterator[Path]:
    """Hold the one-driver lock of ``directory`` (created if needed) while the block runs.

    Why flock: the OS releases it when the holder dies however it dies, so there are no stale
    locks to detect by pid or age. A second caller gets a one-line :class:`InputError` naming the
    holder. On a file system without locks (Lustre mounted ``noflock``) a warning is printed and
    the batch runs unlocked rather than not at all.
    """
    global _locks_unsupported_warned
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise InputError(str(root), "exists and is not a directory; give a directory for --out")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(str(root), f"cannot create the directory: {exc.strerror}") from None
    path = root / LOCK_NAME
    if path.is_dir():
        raise InputError(str(path), "is a directory where implsim keeps its lock file; move "
                         "it away")
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InputError(str(root), f"cannot write here ({exc.strerror}); give a writable "
                             "--out directory") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(fd)
            os.close(fd)
            raise InputError(str(root), f"in use by another implsim driver ({holder}); wait "
                             "for it to finish, or use another --out directory") from None
        except OSError as exc:  # no locks on this file system
            if not _locks_unsupported_warned:
                print(f"implsim: warning: {root}: file locks are not supported here "
                      f"({exc.strerror}); nothing stops a second driver on this directory",
                      file=sys.stderr)
                _locks_unsupported_warned = True
            break
        # A holder that was releasing may have removed the file we opened: lock the live one.
        try:
            live = os.stat(path)
        except FileNotFoundError:
            live = None
        mine = os.fstat(fd)
        if live is not None and (live.st_ino, live.st_dev) == (mine.st_ino, mine.st_dev):
            break
        os.close(fd)
    command = " ".join(sys.argv).replace("\n", " ")
    info = {"pid": os.getpid(), "host": socket.gethostname(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": command if len(command) <= 200 else command[:197] + "..."}
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
    except OSError as exc:  # a full disk: leave no lock file behind
        path.unlink(missing_ok=True)
        os.close(fd)
        raise InputError(str(path), f"cannot write the lock file: {exc.strerror}") from None
    try:
        yield path
    finally:
        try:
            path.unlink()  # while still locked: the next driver re-checks the inode
        except OSError:
            pass
        os.close(fd)


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
            for sub in (*TABLES, *LATER_TABLES, "done"):
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
        """The experiment manifest (clear error when missing, damaged or not a manifest)."""
        if not self.root.exists():
            raise InputError(str(self.root), "no such directory: give the directory "
                             "`implsim experiment FILE --out DIR` wrote")
        if not self.root.is_dir():
            raise InputError(str(self.root), "is a file, not a results store: give the "
                             "directory `implsim experiment FILE --out DIR` wrote")
        if not self.manifest_path.exists():
            raise InputError(str(self.root), "no experiment.json here: not an implsim results "
                             "store (run `implsim experiment FILE --out DIR` first)")
        try:
            manifest = _read_json(self.manifest_path, "store manifest")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(str(self.manifest_path), f"damaged ({exc}); it cannot be "
                             "recovered automatically: restore it or start a new store") from None
        except OSError as exc:  # a directory of that name, no permission, ...
            raise InputError(str(self.manifest_path), f"cannot be read ({exc.strerror}); it "
                             "must be the store's manifest file: restore it or start a new "
                             "store") from None
        problem = _manifest_problem(manifest)
        if problem:
            raise InputError(str(self.manifest_path), f"not an implsim store manifest "
                             f"({problem}); restore it from a copy or start a new store")
        return manifest

    def check_layout(self) -> None:
        """Each directory of the store is a directory (a file there is named, with the fix)."""
        for sub in ("summary", "timeseries", "done"):
            path = self.root / sub
            if path.exists() and not path.is_dir():
                fix = ("move it away and re-run the experiment: every chunk is then recomputed"
                       if sub == "done" else "move it and done/ away and re-run the "
                       "experiment: every chunk is then recomputed")
                raise InputError(str(path), f"is a file, but the store keeps a directory "
                                 f"here; {fix}")

    def remove_temporaries(self) -> int:
        """Delete the temporary files of writes that never finished; returns how many.

        Only a driver holding :func:`exclusive` calls this: every ``.tmp`` is then a leftover
        of a killed batch (a finished write renames its temporary away).
        """
        removed = 0
        for sub in ("", *TABLES, *LATER_TABLES, "done"):
            directory = self.root / sub
            if not directory.is_dir():
                continue
            for tmp in directory.glob(TEMP_GLOB):
                if tmp.is_file():
                    tmp.unlink(missing_ok=True)
                    removed += 1
        return removed

    def runs(self) -> pd.DataFrame:
        """The run table (run_id, arm, point, replicate, seed, chunk)."""
        path = self.root / "runs.parquet"
        try:
            if path.is_dir():
                raise ValueError("a directory where the run table belongs")
            table = pd.read_parquet(path)
        except (FileNotFoundError, OSError, ValueError) as exc:
            raise InputError(str(path), f"missing or damaged ({exc}); restore it from a copy or "
                             "start a new store") from None
        missing = {"run_id", "arm", "point", "replicate", "seed", "chunk"} - set(table.columns)
        if missing:
            raise InputError(str(path), f"not an implsim run table (no {', '.join(sorted(missing))}"
                             "); restore it from a copy or start a new store")
        return table

    # --- chunks --------------------------------------------------------------------------------
    def part(self, table: str, chunk: int) -> Path:
        """Path of a chunk's part file."""
        return self.root / table / f"part-{chunk:05d}.parquet"

    def record(self, chunk: int) -> Path:
        """Path of a chunk's done record."""
        return self.root / "done" / f"part-{chunk:05d}.json"

    def write_chunk(self, chunk: int, run_ids: list[int], tables: dict[str, pd.DataFrame],
                    fingerprint: str | None = None) -> None:
        """Write a finished chunk: both parts, then the done record (all atomically).

        ``fingerprint`` (the experiment's) lets readers refuse a chunk of another experiment.
        """
        entry: dict[str, Any] = {"chunk": chunk, "run_ids": run_ids,
                                 "finished": datetime.now(UTC).isoformat(timespec="seconds")}
        if fingerprint is not None:
            entry["fingerprint"] = fingerprint
        for name in _tables_of(tables):
            path = self.part(name, chunk)
            path.parent.mkdir(exist_ok=True)  # a later table in a store resumed from before it
            write_parquet_atomic(tables[name], path)
            entry[name] = {"rows": len(tables[name]), "bytes": path.stat().st_size,
                           "sha256": _sha256(path)}
        atomic_write_bytes(self.record(chunk), (json.dumps(entry) + "\n").encode())

    def has_chunk(self, chunk: int, fingerprint: str) -> bool:
        """Whether ``chunk`` is stored whole (record and matching parts) by that experiment.

        Why: a chunk's task asks this first, so a task Dask runs again (its worker died after
        writing the chunk but before the scheduler heard) writes nothing and computes nothing.
        Anything unreadable is simply "not stored": the task then writes the chunk.
        """
        try:
            entry = json.loads(self.record(chunk).read_text())
            if _record_problem(entry, chunk) or entry.get("fingerprint") != fingerprint:
                return False
            for name in _tables_of(entry):
                path = self.part(name, chunk)
                if path.stat().st_size != entry[name]["bytes"] \
                        or _sha256(path) != entry[name]["sha256"]:
                    return False
        except (OSError, ValueError):
            return False
        return True

    def done_records(self) -> dict[int, dict[str, Any]]:
        """Every done record by chunk, each checked for its name, shape and experiment."""
        self.check_layout()
        manifest = self.manifest()
        records: dict[int, dict[str, Any]] = {}
        for rec in sorted((self.root / "done").glob("part-*.json")):
            match = _RECORD_NAME.fullmatch(rec.name)
            if not match:
                raise InputError(str(rec), "not a done record's name (done/part-NNNNN.json): "
                                 "move it out of the store")
            chunk = int(match.group(1))
            again = f"move it away to re-run chunk {chunk} (its results are then recomputed)"
            if chunk >= manifest["n_chunks"]:
                raise InputError(str(rec), f"chunk {chunk} does not exist in this store (it has "
                                 f"{manifest.get('n_chunks')} chunks): move it out of the store")
            try:
                entry = _read_json(rec, "done record")
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise InputError(str(rec), f"damaged done record; {again}") from None
            except OSError as exc:
                raise InputError(str(rec), f"cannot be read ({exc.strerror}); {again}") from None
            except InputError as exc:  # a pipe, a device, too large, nested too deep
                raise InputError(str(rec), f"{exc.message}; {again}") from None
            problem = _record_problem(entry, chunk)
            if problem:
                raise InputError(str(rec), f"damaged done record ({problem}); {again}")
            stored = entry.get("fingerprint")
            if stored is not None and stored != manifest["fingerprint"]:
                raise InputError(str(rec), f"written by another experiment (fingerprint "
                                 f"{stored}; this store's is {manifest['fingerprint']}): the "
                                 "store mixes two experiments' runs. Start a new store, or move "
                                 "the record and its parts away to re-run the chunk")
            records[chunk] = entry
        return records

    def done_chunks(self, verify: bool = True) -> set[int]:
        """Chunks whose done record exists and whose parts match it."""
        records = self.done_records()
        if verify:
            for chunk, entry in records.items():
                for name in _tables_of(entry):
                    self._check_part(name, chunk, entry)
        return set(records)

    def check_membership(self, summary: pd.DataFrame) -> None:
        """Every stored run is one of this store's runs, in its recorded chunk.

        Why: a chunk written by another experiment (before the lock existed, or copied in) has
        valid parts; only its labels and seeds against the run table can reveal it.
        """
        runs = self.runs().set_index("run_id")
        records = self.done_records()
        for chunk, entry in records.items():
            want = sorted(runs.index[runs["chunk"] == chunk])
            if sorted(entry["run_ids"]) != want:
                raise InputError(str(self.record(chunk)), f"lists runs {_span(entry['run_ids'])}"
                                 f" but chunk {chunk} of this store holds runs {_span(want)}: "
                                 "the chunk belongs to another experiment; move it and its "
                                 "parts away to re-run it")
        if summary.empty:
            return
        arms = self.manifest()["arms"]
        labels = summary.drop_duplicates("run_id").set_index("run_id")
        foreign = labels.index.difference(runs.index)
        if len(foreign):
            raise InputError(str(self.root), f"holds runs {_span(list(foreign))} that are not in "
                             "its run table (runs.parquet): it mixes two experiments; start a "
                             "new store")
        mine = runs.loc[labels.index]
        expected_arm = mine["arm"].map(lambda a: arms[a] if 0 <= a < len(arms) else None)
        wrong = labels.index[(labels["seed"].to_numpy() != mine["seed"].to_numpy())
                             | (labels["point"].to_numpy() != mine["point"].to_numpy())
                             | (labels["replicate"].to_numpy() != mine["replicate"].to_numpy())
                             | (labels["arm"].astype(str).to_numpy()
                                != expected_arm.astype(str).to_numpy())]
        if len(wrong):
            run = int(wrong[0])
            chunk = int(mine.loc[run, "chunk"])
            raise InputError(str(self.part("summary", chunk)), f"run {run} does not match the "
                             "store's run table (seed, arm, point or replicate differ): the "
                             "store mixes two experiments' runs; start a new store, or move "
                             f"{self.record(chunk)} and its parts away to re-run chunk {chunk}")

    def _check_part(self, name: str, chunk: int, entry: dict[str, Any]) -> None:
        path = self.part(name, chunk)
        want = entry.get(name, {})
        if path.exists() and not path.is_file():
            raise InputError(str(path), f"is a directory, but chunk {chunk} is recorded as done "
                             f"in {self.record(chunk)}; move both away to re-run the chunk")
        if not path.exists():
            raise InputError(str(path), f"missing, but chunk {chunk} is recorded as done in "
                             f"{self.record(chunk)}; move that record away to re-run the chunk")
        if path.stat().st_size != want.get("bytes") or _sha256(path) != want.get("sha256"):
            raise InputError(str(path), f"does not match its record {self.record(chunk)} "
                             "(corrupt or partly written); move both away to re-run chunk "
                             f"{chunk}. Nothing was deleted")

    def has_table(self, table: str) -> bool:
        """Whether every finished chunk has ``table`` (False for a store older than the table)."""
        return all(table in entry for entry in self.done_records().values())

    def read(self, table: str) -> pd.DataFrame:
        """All finished rows of a table, in run order (verified against the done records).

        A table of :data:`LATER_TABLES` comes from the chunks that have it (:meth:`has_table`).
        """
        chunks = sorted(self.done_chunks(verify=True))
        if table in LATER_TABLES:
            records = self.done_records()
            chunks = [c for c in chunks if table in records[c]]
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


def _tables_of(entry: dict[str, Any]) -> tuple[str, ...]:
    """The tables a chunk has: the first ones always, a later one where ``entry`` names it."""
    return (*TABLES, *(t for t in LATER_TABLES if t in entry))


def _read_json(path: Path, what: str) -> Any:
    """A store record, read as every input file is (a regular file, size and depth bounded).

    Why: a record swapped for a named pipe or a device must not hang or exhaust the reader.
    A directory is an OSError as before (its callers say how to mend it).
    """
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    try:
        data = json.loads(read_bytes(path, what, kind="json"))
    except RecursionError:
        raise json.JSONDecodeError("nested too deep", "", 0) from None
    check_depth(data, str(path))
    return data


def _span(ids: list[int]) -> str:
    """A short description of a list of run ids (why: messages stay one short line)."""
    ids = sorted(int(i) for i in ids)
    if not ids:
        return "none"
    return f"{ids[0]}–{ids[-1]} ({len(ids)})" if len(ids) > 1 else str(ids[0])


def _manifest_problem(manifest: Any) -> str:
    """What makes ``manifest`` unusable as a store manifest, or ''."""
    if not isinstance(manifest, dict):
        return f"a JSON {type(manifest).__name__}, not an object"
    kinds = {"fingerprint": str, "chunk_size": int, "n_runs": int, "n_chunks": int,
             "arms": list, "experiment": dict}
    missing = [k for k in kinds if k not in manifest]
    if missing:
        return f"no {', '.join(missing)}"
    for key, kind in kinds.items():
        value = manifest[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"{key} is a {type(value).__name__}, not a {kind.__name__}"
    if manifest["chunk_size"] < 1:
        return f"chunk_size {manifest['chunk_size']} is not positive"
    if not all(isinstance(a, str) for a in manifest["arms"]):
        return "arms are not all names"
    return ""


def _record_problem(entry: Any, chunk: int) -> str:
    """What makes ``entry`` unusable as the done record of ``chunk``, or ''."""
    if not isinstance(entry, dict):
        return f"a JSON {type(entry).__name__}, not an object"
    if entry.get("chunk") != chunk:
        return f"its chunk is {entry.get('chunk')!r}, its name says {chunk}"
    ids = entry.get("run_ids")
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                            for i in ids):
        return "run_ids is not a list of run numbers"
    for name in TABLES:
        part = entry.get(name)
        if not isinstance(part, dict) or not isinstance(part.get("bytes"), int) \
                or not isinstance(part.get("sha256"), str):
            return f"no size and checksum of its {name} part"
    return ""

"""Opening input files: the one place that decides what may be read, and how much.

Every file a user names (scenario, bundle, experiment, sensitivity and calibration TOML, network
GraphML and CSV, observed data, design tables) is read through :func:`read_bytes`, so all of them
fail the same ways with one line naming the file: missing, a directory, a device or named pipe
(``/dev/zero`` would exhaust memory, a FIFO would block for ever: refused from ``os.stat``
before any ``open``), larger than the declared limit of its kind, or unreadable. Parsed data is
checked for nesting depth (:func:`check_depth`) because a hostile file nested thousands deep
would exhaust the parsers' and validators' recursion instead of giving a message.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sim.errors import InputError

#: Largest file of each kind read (bytes). Why these: a scenario or calibration TOML is a few
#: kilobytes and 16 MiB leaves room for inline bundles; observed-data and design tables of a
#: national study stay far below 256 MiB; a network file of 1M staff and 10M ties is ~1 GiB as
#: GraphML, the largest the loaders can hold in memory on a workstation.
LIMITS = {"toml": 16 << 20, "csv": 256 << 20, "json": 64 << 20, "network": 1 << 30}
#: Deepest nesting of tables and arrays accepted in a TOML or JSON input (no implsim file
#: nests deeper than 5; a limit this far below the interpreter's recursion limit keeps every
#: later walk of the data, such as deepcopy and fingerprints, safe).
MAX_DEPTH = 32

_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"))


def _size(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MiB" if n >= 1 << 20 else f"{n:,} bytes"


def _refuse_kind(mode: int, where: str, what: str) -> None:
    if stat.S_ISDIR(mode):
        raise InputError(where, f"is a directory; give a {what} file")
    for test, kind in _KINDS:
        if test(mode):
            raise InputError(where, f"is {kind}, not a regular file; give a {what} file")
    if not stat.S_ISREG(mode):
        raise InputError(where, f"is not a regular file; give a {what} file")


def check_file(path: str | Path, what: str, where: str | None = None, hint: str = "",
               kind: str = "toml") -> os.stat_result:
    """Stat ``path`` and refuse what must not be opened; returns the stat of a regular file.

    ``what`` names the kind of file in messages ("scenario", "CSV"), ``where`` how the file is
    named (default: the path), ``hint`` follows "file not found", ``kind`` picks the size limit
    from :data:`LIMITS`.
    """
    where = str(path) if where is None else where
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(where, f"{what} file not found{hint}") from None
    except NotADirectoryError:
        raise InputError(where, f"{what} file not found (a part of the path is a file, not a "
                         f"directory){hint}") from None
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte, no permission
        raise InputError(where, f"cannot be read: {getattr(exc, 'strerror', None) or exc}"
                         ) from None
    _refuse_kind(st.st_mode, where, what)
    limit = LIMITS[kind]
    if st.st_size > limit:
        raise InputError(where, f"is {_size(st.st_size)}, above the {_size(limit)} limit of a "
                         f"{what} file (sim.inputfile.LIMITS); is it the right file?")
    return st


def read_bytes(path: str | Path, what: str, where: str | None = None, hint: str = "",
               kind: str = "toml") -> bytes:
    """The bytes of the regular file ``path``, after :func:`check_file`'s checks.

    The file is opened non-blocking and checked again from the open descriptor (it may have
    been swapped for a pipe since the stat), and no more than the limit is ever read.
    """
    where = str(path) if where is None else where
    check_file(path, what, where, hint, kind)
    limit = LIMITS[kind]
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputError(where, f"{what} file not found{hint}") from None
    except OSError as exc:
        raise InputError(where, f"cannot be read: {exc.strerror or exc}") from None
    try:
        _refuse_kind(os.fstat(fd).st_mode, where, what)
        chunks, total = [], 0
        while True:
            block = os.read(fd, 1 << 20)
            if not block:
                break
            total += len(block)
            if total > limit:
                raise InputError(where, f"is above the {_size(limit)} limit of a {what} file "
                                 "(sim.inputfile.LIMITS); is it the right file?")
            chunks.append(block)
        return b"".join(chunks)
    except OSError as exc:
        raise InputError(where, f"cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_text(path: str | Path, what: str, where: str | None = None, hint: str = "",
              kind: str = "toml", encoding: str = "utf-8") -> str:
    """:func:`read_bytes` decoded; a file that is not UTF-8 text is one line with the byte."""
    where = str(path) if where is None else where
    data = read_bytes(path, what, where, hint, kind)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(where, f"is not UTF-8 text (byte {exc.start}); save it as UTF-8"
                         ) from None


def _children(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        return iter(value.values())
    if isinstance(value, list | tuple):
        return iter(value)
    return iter(())


def check_depth(data: Any, where: str, limit: int = MAX_DEPTH) -> None:
    """Refuse tables and arrays nested deeper than ``limit`` (walked without recursion)."""
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            raise InputError(where, f"tables or arrays are nested more than {limit} deep; no "
                             "implsim file nests that deep: is it the right file?")
        stack.extend((child, depth + 1) for child in _children(value)
                     if isinstance(child, dict | list | tuple))

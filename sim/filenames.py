"""Names that become file names: the one rule for turning a user's name into a safe file name.

Strategy, unit, bundle and trust names are free text in scenario files; a figure named after
them must still be one valid path component on every file system (no separators, at most 255
bytes). Short names keep their readable slug; a long one is cut and given a stable hash of the
full name, so two long names that share a beginning still get different files.
"""

from __future__ import annotations

import hashlib

#: Longest stem (UTF-8 bytes) before the suffix; far below the 255 bytes of ext4, XFS and APFS
#: so that a suffix such as ``.png`` and a temporary prefix still fit.
MAX_STEM_BYTES = 120
_DIGITS = 10  # hex digits of the hash suffix: 40 bits, no collision among a study's names


def file_stem(text: str, limit: int = MAX_STEM_BYTES) -> str:
    """``text`` with every character but letters and digits as ``_``, at most ``limit`` bytes."""
    stem = "".join(c if c.isalnum() else "_" for c in text)
    if len(stem.encode()) <= limit:
        return stem
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGITS]
    head = stem.encode()[: limit - _DIGITS - 1].decode("utf-8", "ignore")
    return f"{head}-{digest}"

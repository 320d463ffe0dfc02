"""Store files are readable by their owner only (DOMAIN.md §7): directories 0700, files 0600.

The store holds clue details, users and the audit trail, so nothing under it may be readable by
the group or by others, whatever umask the process was started with (a service manager's 0022,
a shell's 0002). Rather than give every `mkdir`, `open` and copy of the code base a mode of its
own, each entry point (`xuncha.cli.main`, the dashboard's app.py) calls `private_umask()` first:
every directory the process creates is then 0700 and every file 0600 (`os.open`'s 0o666 and
`mkdir`'s 0o777 masked by 0o077), DuckDB's and SQLite's files included. `private_tree()` takes
away the group and other bits a store made before this rule still carries.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def private_umask() -> int:
    """Make every file and directory this process creates from now on private to its owner;
    returns the umask it replaced. Call it first in an entry point: the umask is the
    process's, shared by every thread."""
    return os.umask(PRIVATE_UMASK)


def _entries(top: Path) -> list[str]:
    """`top` and everything under it, links not followed."""
    found = [str(top)]
    for folder, dirs, files in os.walk(top):
        found += [os.path.join(folder, n) for n in (*dirs, *files)]
    return found


def private_tree(root: str | os.PathLike[str]) -> int:
    """Remove the group and other permission bits from everything under `root` (itself
    included), without following links; returns how many entries were changed. A store
    written before the umask rule is made private in place; entries that disappear meanwhile
    (a write publishing a version) or that belong to someone else are left alone."""
    changed = 0
    top = Path(root)
    if not top.is_dir() or top.is_symlink():
        return 0
    for name in _entries(top):
        with contextlib.suppress(OSError):
            info = os.lstat(name)
            if stat.S_ISLNK(info.st_mode) or not info.st_mode & 0o077:
                continue
            os.chmod(name, stat.S_IMODE(info.st_mode) & ~0o077)
            changed += 1
    return changed


def exposed(root: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """Every entry under `root` (itself included) that the group or others may read, write
    or enter, as (path relative to root, octal mode); empty when the store is private."""
    top = Path(root)
    found: list[tuple[str, str]] = []
    for name in _entries(top):
        with contextlib.suppress(OSError):
            info = os.lstat(name)
            if not stat.S_ISLNK(info.st_mode) and info.st_mode & 0o077:
                found.append((os.path.relpath(name, top), oct(stat.S_IMODE(info.st_mode))))
    return sorted(found)


__all__ = [
    "DIRECTORY_MODE",
    "FILE_MODE",
    "PRIVATE_UMASK",
    "exposed",
    "private_tree",
    "private_umask",
]

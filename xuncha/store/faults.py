"""Crash points: named steps of a write, a rollback and a restore at which the fault suite
(tests/test_faults.py) kills the process, as a power cut or `kill -9` would.

`XUNCHA_CRASH_AT=<point>` kills the process (SIGKILL, nothing flushed, no cleanup runs) the
first time it reaches that point; `<point>#<n>` the n-th time (a rollback commits several
times). Unset, which is always so outside the suite, `reached` is two dictionary lookups.
The points are listed here, so that the suite can try every one and a point in the code that
is not listed is a programming error rather than a step nobody tests.
"""

from __future__ import annotations

import os
import signal

ENV = "XUNCHA_CRASH_AT"

# Each write (import, rollback, demo, repair of summaries…): Store.write.
WRITE_POINTS = (
    "write.locked",  # lock held, leftovers of killed writes removed
    "write.copied",  # the current version copied to a staging file of its own
    "write.applied",  # the batch applied inside the transaction, derived tables not refreshed
    "write.committed",  # COMMIT done, CHECKPOINT not (the WAL holds the batch)
    "write.checkpointed",  # CHECKPOINT done, staging file not yet renamed
    "write.renamed",  # staging renamed to its version name, CURRENT still the old one
    "write.pointed",  # CURRENT names the new version, marker and pruning not done
    "write.published",  # everything done but pruning old versions
)
# A rollback commits inside its staging copy before the next step may delete what it freed.
ROLLBACK_POINTS = ("rollback.commit",)
# Store.restore: xuncha.store.backup.restore.
RESTORE_POINTS = (
    "restore.extracting",  # some members extracted into the staging folder
    "restore.checked",  # staging store checked, audit record not yet appended
    "restore.audited",  # "restore" audit record appended in the staging store
    "restore.swapped",  # new store at the path, old one still under the staging name
    "restore.aside",  # old store renamed aside, marker not yet removed
)
# xuncha.store.backup.backup: killed, it leaves a staging folder and an unfinished archive
# that the next backup into the same folder removes.
BACKUP_POINTS = (
    "backup.snapshot",  # versions linked and files copied into the staging folder
    "backup.archiving",  # the archive's manifest written, its files not
)
# Only under a store key (encryption at rest): a write's sealing, and `xuncha key seal` or
# `rotate` (Store.seal_files) between files.
SEALED_POINTS = (
    "write.sealed",  # the plaintext in memory sealed into the staging file, not yet renamed
    "seal.file",  # one more file sealed or re-sealed in place, the others not yet
)
# Online rectification (xuncha.rectify.workflow): evidence files stored, the version naming
# them not yet written.
RECTIFY_POINTS = ("rectify.evidence_stored",)
POINTS = frozenset(
    WRITE_POINTS + ROLLBACK_POINTS + RESTORE_POINTS + BACKUP_POINTS + SEALED_POINTS + RECTIFY_POINTS
)

_seen: dict[str, int] = {}


def reached(point: str) -> None:
    """Kill this process here when the fault suite asks for it."""
    if point not in POINTS:
        raise AssertionError(f"unlisted crash point {point!r}")
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    name, _, nth = wanted.partition("#")
    if name != point:
        return
    _seen[point] = _seen.get(point, 0) + 1
    if _seen[point] == (int(nth) if nth else 1):
        os.kill(os.getpid(), signal.SIGKILL)

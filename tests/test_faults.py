"""The fault suite: every step of a write (import, rollback, demo) and of a restore killed with
SIGKILL, as a power cut would, at the crash points of xuncha/store/faults.py.

After each kill the store is exactly as before the command or exactly as after it (every
table's content compared, timestamps of when something was written left out), nothing a
killed command left is published or kept by the next one, and the next write gives exactly
what it gives on a store that was never interrupted.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import killing
from tests import ledger_samples as S
from tests.test_ledger_cli import _import_args
from xuncha import audit, cli
from xuncha.store import Store, crypto, faults

# One worker runs the module: its stores (built once per module) are not built again on the
# other (26 s and more each).
pytestmark = pytest.mark.xdist_group("faults")

RUN = "import sys; from xuncha import cli; sys.exit(cli.main(sys.argv[1:]))"
# The same, on a filesystem that cannot exchange two directories (the two-rename swap).
RUN_WITHOUT_EXCHANGE = (
    "import sys; from xuncha import cli; from xuncha.store import backup;"
    " backup._exchange = lambda first, second: False; sys.exit(cli.main(sys.argv[1:]))"
)
Fingerprint = tuple[int, dict[str, str]]


def _killed(*argv: str, at: str, script: str = RUN) -> None:
    """Run the command in a process of its own, killed (SIGKILL) at crash point `at`."""
    killing.killed(script, *argv, at=at)


def _ok(*argv: str) -> None:
    assert cli.main(list(argv)) == 0, argv


def fingerprint(root: Path) -> Fingerprint:
    """The current version's number and a digest of every table's rows (in any order)."""
    store = Store(root)
    con = store.connect()
    try:
        out: dict[str, str] = {}
        tables = con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()
        for (table,) in tables:
            columns = [
                f'"{name}"'
                for name, kind in con.execute(
                    "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ?"
                    " ORDER BY column_index",
                    [table],
                ).fetchall()
                if not kind.startswith("TIMESTAMP")  # when it was written, not what
            ]
            # The audit head a version carries is when it was written, as the timestamps are.
            where = " WHERE key <> 'audit_head'" if table == "store_meta" else ""
            rows = con.execute(f'SELECT {", ".join(columns)} FROM "{table}"{where}').fetchall()
            out[table] = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
        return store.version(), out
    finally:
        con.close()


def _leftovers(root: Path) -> list[str]:
    """What a killed command may leave in a store and the next write must have removed."""
    found = [p.name for p in (root / "versions").iterdir() if p.name.endswith((".tmp", ".wal"))]
    found += [p.name for p in (root / "versions").glob("*.pending")]
    found += [p.name for p in root.parent.glob(f".{root.name}.restore-*")]
    return sorted(found)


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    return target


# -- stores built once for the module -----------------------------------------------------


class Case:
    """Base stores, the commands, and what every uninterrupted command gives."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.merged = S.merged_xlsx(folder / S.MERGED.name)
        self.progress = S.merged_xlsx(folder / S.PROGRESS.name, progress=True)
        self.one = folder / "one"  # the first ledger imported (version 1)
        _ok(*_import_args(self.one, self.merged))
        self.two = _copy(self.one, folder / "two")  # and the progress ledger (version 2)
        _ok(*self.import_progress(self.two))
        self.archive = folder / "two.tar.gz"
        _ok("backup", "--db", str(self.two), "--out", str(self.archive))
        self.ref: dict[str, Fingerprint] = {
            "one": fingerprint(self.one),
            "two": fingerprint(self.two),
        }
        rolled = _copy(self.two, folder / "rolled")
        _ok(*self.rollback(rolled))
        self.ref["rolled"] = fingerprint(rolled)
        _ok(*self.import_progress(rolled))
        self.ref["rolled+import"] = fingerprint(rolled)
        demo = folder / "demo"
        _ok(*self.demo(demo))
        self.ref["demo"] = fingerprint(demo)
        _ok(*self.demo(demo))
        self.ref["demo+demo"] = fingerprint(demo)
        restored = _copy(self.one, folder / "restored")
        _ok(*self.restore(restored))
        self.ref["restored"] = fingerprint(restored)
        _ok(*self.rollback(restored))
        self.ref["restored+rollback"] = fingerprint(restored)

    def import_progress(self, db: Path) -> list[str]:
        return _import_args(db, self.progress)

    def rollback(self, db: Path) -> list[str]:
        return ["rollback", "2", "--db", str(db)]

    def demo(self, db: Path) -> list[str]:
        return ["demo", "--db", str(db), "--findings", "150"]

    def restore(self, db: Path) -> list[str]:
        return ["restore", str(self.archive), "--db", str(db), "--force", "--user", "巡察办"]


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    return Case(tmp_path_factory.mktemp("faults"))


def _after_kill(
    db: Path,
    before: Fingerprint | None,
    after: Fingerprint,
    again: Callable[[], None],
) -> None:
    """The store is exactly before or after; completing the command gives exactly after."""
    store = Store(db)
    assert store.damaged() is None
    state = fingerprint(db) if store.exists() else None
    assert state in (before, after), "neither before nor after"
    if state != after:
        again()
    assert fingerprint(db) == after


# -- writes --------------------------------------------------------------------------------


@pytest.mark.parametrize("point", faults.WRITE_POINTS)
def test_an_import_killed_at_any_step_leaves_the_store_before_or_after(
    case: Case, tmp_path: Path, point: str
) -> None:
    db = _copy(case.one, tmp_path / "db")
    _killed(*case.import_progress(db), at=point)
    _after_kill(db, case.ref["one"], case.ref["two"], lambda: _ok(*case.import_progress(db)))
    _ok(*case.rollback(db))  # the next write
    assert fingerprint(db) == case.ref["rolled"] and not _leftovers(db)


ROLLBACK_KILLS = list(faults.WRITE_POINTS) + [f"rollback.commit#{n}" for n in (1, 2, 3)]


@pytest.mark.parametrize("point", ROLLBACK_KILLS)
def test_a_rollback_killed_at_any_step_or_between_its_commits_is_whole_or_not_at_all(
    case: Case, tmp_path: Path, point: str
) -> None:
    db = _copy(case.two, tmp_path / "db")
    _killed(*case.rollback(db), at=point)
    _after_kill(db, case.ref["two"], case.ref["rolled"], lambda: _ok(*case.rollback(db)))
    _ok(*case.import_progress(db))  # the next write
    assert fingerprint(db) == case.ref["rolled+import"] and not _leftovers(db)


@pytest.mark.parametrize("point", faults.WRITE_POINTS)
def test_a_demo_killed_at_any_step_leaves_no_store_or_the_whole_demo(
    case: Case, tmp_path: Path, point: str
) -> None:
    db = tmp_path / "db"
    _killed(*case.demo(db), at=point)
    _after_kill(db, None, case.ref["demo"], lambda: _ok(*case.demo(db)))
    _ok(*case.demo(db))  # the next write
    assert fingerprint(db) == case.ref["demo+demo"] and not _leftovers(db)


def test_every_crash_point_has_its_kill_above() -> None:
    # A point the commands never reach would make its test above pass without a kill; each
    # test asserts the kill, and this names the points so a new one gets a test.
    tested = set(faults.WRITE_POINTS) | {"rollback.commit"} | set(faults.RESTORE_POINTS)
    tested |= set(faults.BACKUP_POINTS) | set(SEALED_WRITE_POINTS) | {"seal.file"}
    tested |= set(faults.RECTIFY_POINTS)  # tests/test_rectify_faults.py
    assert tested == set(faults.POINTS)


# -- restore -------------------------------------------------------------------------------


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
@pytest.mark.parametrize("point", [*faults.RESTORE_POINTS, "restore.extracting#3"])
def test_a_restore_killed_at_any_step_leaves_the_old_store_or_the_new_one_at_the_path(
    case: Case, tmp_path: Path, point: str, exchange: bool
) -> None:
    db = _copy(case.one, tmp_path / "db")
    _killed(*case.restore(db), at=point, script=RUN if exchange else RUN_WITHOUT_EXCHANGE)
    # The next command finds what the restore left: its staging folder is removed, or the old
    # store that was exchanged out is renamed aside, or a swap cut in two is completed.
    code = cli.main(["info", "--db", str(db)])
    assert code == 0
    assert not list(tmp_path.glob(".db.restore-*"))
    assert not (db / ".restore-incoming").exists()
    _after_kill(db, case.ref["one"], case.ref["restored"], lambda: _ok(*case.restore(db)))
    assert audit.verify(db) == [] and audit.entries(db)[-1].action == "restore"
    replaced = sorted(tmp_path.glob("db.replaced-*"))
    assert [fingerprint(p) for p in replaced][-1:] == [case.ref["one"]]  # kept, not lost
    _ok(*case.rollback(db))  # the next write
    assert fingerprint(db) == case.ref["restored+rollback"] and not _leftovers(db)


def test_the_suite_kills_for_real(case: Case, tmp_path: Path) -> None:
    # Without the crash point the same command completes: the kills above are the points'.
    db = _copy(case.one, tmp_path / "db")
    env: dict[str, Any] = {k: v for k, v in os.environ.items() if k != faults.ENV}
    exit_code, output = killing.run(RUN, *case.import_progress(db), env=env)
    assert exit_code == 0, output
    assert fingerprint(db) == case.ref["two"]


@pytest.mark.parametrize("point", faults.BACKUP_POINTS)
def test_a_backup_killed_midway_leaves_the_store_as_it_was_and_the_next_backup_cleans_up(
    case: Case, tmp_path: Path, point: str
) -> None:
    db = _copy(case.two, tmp_path / "db")
    out = tmp_path / "out"
    out.mkdir()
    _killed("backup", "--db", str(db), "--out", str(out / "a.tar.gz"), at=point)
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".xuncha-backup-"))
    assert fingerprint(db) == case.ref["two"] and not _leftovers(db)
    _ok("backup", "--db", str(db), "--out", str(out / "b.tar.gz"))
    assert sorted(p.name for p in out.iterdir()) == ["b.tar.gz"]  # what the kill left: gone
    restored = tmp_path / "restored"
    _ok("restore", str(out / "b.tar.gz"), "--db", str(restored), "--user", "巡察办")
    assert fingerprint(restored) == case.ref["two"]


# -- under a store key (encryption at rest) ------------------------------------------------

KEY_TEXT = base64.b64encode(bytes(range(32))).decode()
NEW_KEY_TEXT = base64.b64encode(bytes(range(32, 64))).decode()
SEALED_WRITE_POINTS = (*faults.WRITE_POINTS, "write.sealed")


@pytest.fixture(scope="module")
def sealed_case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(crypto.ENV_KEY, KEY_TEXT)
        return Case(tmp_path_factory.mktemp("faults-sealed"))


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The store key set, and a memory folder of the test's own for plaintext (so what a
    killed process left there is this test's to see)."""
    plain = Path(tempfile.mkdtemp(prefix="xuncha-faults-", dir=crypto.DEFAULT_PLAIN_DIR))
    monkeypatch.setenv(crypto.ENV_KEY, KEY_TEXT)
    monkeypatch.setenv(crypto.ENV_PLAIN_DIR, str(plain))
    yield plain
    shutil.rmtree(plain, ignore_errors=True)


def _all_sealed(root: Path) -> None:
    """Every data file of the store (versions, upgraded copies, prepared sandboxes) sealed."""
    files = [
        p for folder in ("versions", "upgraded", "sandboxes") for p in (root / folder).glob("*")
    ]
    data = [p for p in files if p.is_file() and ".duckdb" in p.name and p.stat().st_size]
    assert data and all(crypto.is_sealed(p) for p in data), [
        p.name for p in data if not crypto.is_sealed(p)
    ]


def test_the_sealed_stores_hold_the_same_data_as_the_plain_ones(
    case: Case, sealed_case: Case, keyed: Path
) -> None:
    # import_batches names the ledger's folder, which is each case's own.
    def content(ref: Fingerprint) -> Fingerprint:
        return ref[0], {t: d for t, d in ref[1].items() if t != "import_batches"}

    assert sealed_case.ref.keys() == case.ref.keys()
    for name, ref in case.ref.items():
        assert content(sealed_case.ref[name]) == content(ref), name
    for name in ("one", "two"):
        _all_sealed(getattr(sealed_case, name))


@pytest.mark.parametrize("point", SEALED_WRITE_POINTS)
def test_a_sealed_import_killed_at_any_step_leaves_the_store_before_or_after(
    sealed_case: Case, keyed: Path, tmp_path: Path, point: str
) -> None:
    db = _copy(sealed_case.one, tmp_path / "db")
    _killed(*sealed_case.import_progress(db), at=point)
    _all_sealed(db)
    before = sealed_case.ref["one"]
    _after_kill(db, before, sealed_case.ref["two"], lambda: _ok(*sealed_case.import_progress(db)))
    _ok(*sealed_case.rollback(db))  # the next write removes what the killed one left in memory
    assert fingerprint(db) == sealed_case.ref["rolled"] and not _leftovers(db)
    _all_sealed(db)
    assert sorted(keyed.iterdir()) == []


@pytest.mark.parametrize("point", ["write.copied", "write.sealed", "rollback.commit#2"])
def test_a_sealed_rollback_killed_midway_is_whole_or_not_at_all(
    sealed_case: Case, keyed: Path, tmp_path: Path, point: str
) -> None:
    db = _copy(sealed_case.two, tmp_path / "db")
    _killed(*sealed_case.rollback(db), at=point)
    _all_sealed(db)
    ref = sealed_case.ref
    _after_kill(db, ref["two"], ref["rolled"], lambda: _ok(*sealed_case.rollback(db)))
    assert not _leftovers(db) and sorted(keyed.iterdir()) == []


@pytest.mark.parametrize("point", ["write.applied", "write.sealed", "write.renamed"])
def test_a_sealed_demo_killed_midway_leaves_no_store_or_the_whole_demo(
    sealed_case: Case, keyed: Path, tmp_path: Path, point: str
) -> None:
    db = tmp_path / "db"
    _killed(*sealed_case.demo(db), at=point)
    _after_kill(db, None, sealed_case.ref["demo"], lambda: _ok(*sealed_case.demo(db)))
    _all_sealed(db)
    assert not _leftovers(db) and sorted(keyed.iterdir()) == []


def test_sealing_a_plain_store_killed_between_files_is_completed_by_running_it_again(
    case: Case, keyed: Path, tmp_path: Path
) -> None:
    db = _copy(case.two, tmp_path / "db")  # two plain versions
    assert not any(crypto.is_sealed(p) for p in (db / "versions").glob("*.duckdb"))
    _killed("key", "seal", "--db", str(db), at="seal.file#1")
    states = sorted(crypto.is_sealed(p) for p in (db / "versions").glob("*.duckdb"))
    assert states == [False, True]  # one sealed in place, the other not yet
    assert fingerprint(db) == case.ref["two"]  # readable throughout
    _ok("key", "seal", "--db", str(db))
    _all_sealed(db)
    assert fingerprint(db) == case.ref["two"] and not _leftovers(db)


def test_a_rotation_killed_between_files_is_completed_by_running_it_again(
    sealed_case: Case, keyed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _copy(sealed_case.two, tmp_path / "db")
    new_key = tmp_path / "new.key"
    new_key.write_text(NEW_KEY_TEXT + "\n")
    new_key.chmod(0o600)
    _killed("key", "rotate", "--db", str(db), "--new-key-file", str(new_key), at="seal.file#1")
    ids = sorted(crypto.read_header(p).key_id for p in (db / "versions").glob("*.duckdb"))
    old_id, new_id = (crypto.key_id(base64.b64decode(t)) for t in (KEY_TEXT, NEW_KEY_TEXT))
    assert ids == sorted([old_id, new_id])  # cut between the two versions
    _ok("key", "rotate", "--db", str(db), "--new-key-file", str(new_key))
    assert {crypto.read_header(p).key_id for p in (db / "versions").glob("*.duckdb")} == {new_id}
    with pytest.raises(Exception, match="另一把密钥"):
        fingerprint(db)  # the old key opens nothing any more
    monkeypatch.setenv(crypto.ENV_KEY, NEW_KEY_TEXT)
    assert fingerprint(db) == sealed_case.ref["two"] and not _leftovers(db)
    assert audit.verify(db) == [] and audit.entries(db)[-1].action == "key_rotate"


def test_a_sealed_backup_holds_only_sealed_data_and_restores_only_with_its_key(
    sealed_case: Case, keyed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tarfile.open(sealed_case.archive) as archive:
        members = [m for m in archive.getmembers() if m.isfile() and ".duckdb" in m.name]
        assert members
        for member in members:
            handle = archive.extractfile(member)
            assert handle is not None and handle.read(8) == crypto.MAGIC, member.name
    monkeypatch.setenv(crypto.ENV_KEY, NEW_KEY_TEXT)
    target = tmp_path / "restored"
    assert cli.main(["restore", str(sealed_case.archive), "--db", str(target)]) == 1
    assert not target.exists()
    monkeypatch.setenv(crypto.ENV_KEY, KEY_TEXT)
    _ok("restore", str(sealed_case.archive), "--db", str(target), "--user", "巡察办")
    assert fingerprint(target) == sealed_case.ref["two"]

"""A store is readable by its owner only, whatever the umask: directories 0700, files 0600
(versions, CURRENT, pins, the audit trail, users, sandboxes, exports written into the store,
the briefing archive), because it holds clue details (DOMAIN.md §7).

The processes here start with the umask of a typical service or shell (0022) and build stores
through the real entry points: the command line (`python -m xuncha.cli`: demo, import, user
add, sql --out, briefing, backup and restore) and the dashboard (app.py in AppTest). Nothing
under any store may then carry a group or other permission bit."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from tests import ledger_samples as S
from tests.conftest import AS_OF
from xuncha import ui
from xuncha.auth import UserStore
from xuncha.store import Store
from xuncha.store.permissions import exposed, private_tree, private_umask

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PASSWORD = "Xuncha-Test-2026"
# The command line exactly as `xuncha …` runs it, started with umask 0022.
UNDER_0022 = (
    "import os, runpy, sys; os.umask(0o022); sys.argv[0] = 'xuncha'; "
    "runpy.run_module('xuncha.cli', run_name='__main__')"
)

# The module's stores are made by several command-line runs (≈ 27 s): built once, on one
# worker, rather than once on each worker its tests are handed to.
pytestmark = pytest.mark.xdist_group("permissions")


def xuncha(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-c", UNDER_0022, *argv],
        cwd=ROOT,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (argv, done.stdout[-2000:], done.stderr[-2000:])
    return done


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Stores made by the command line under umask 0022 (the folder around them is 0755,
    as a service's working folder would be)."""
    folder = tmp_path_factory.mktemp("umask")
    folder.chmod(0o755)
    demo, real, restored = folder / "demo", folder / "real", folder / "restored"
    xuncha("demo", "--db", str(demo))
    ledger = S.merged_xlsx(folder / S.MERGED.name)
    xuncha(
        "import",
        str(ledger),
        "--db",
        str(real),
        "--round",
        S.ZJ_ROUND,
        "--unit",
        S.ZJ_UNIT,
        "--feedback-date",
        S.ZJ_FEEDBACK.isoformat(),
    )
    xuncha("user", "add", "zhang", "--role", "office", "--db", str(real), stdin=PASSWORD + "\n")
    out = real / "exports" / "结果.csv"
    out.parent.mkdir(mode=0o700)
    xuncha("sql", "SELECT count(*) AS n FROM findings", "--db", str(real), "--format", "csv")
    xuncha(
        "sql",
        "SELECT count(*) AS n FROM findings",
        "--db",
        str(real),
        "--format",
        "csv",
        "--out",
        str(out),
    )
    xuncha(
        "briefing",
        "--db",
        str(real),
        "--round",
        S.ZJ_ROUND,
        "--out",
        str(folder / "简报.docx"),
    )
    archive = folder / "备份.tar.gz"
    xuncha("backup", "--db", str(real), "--out", str(archive))
    xuncha("restore", str(archive), "--db", str(restored))
    return {
        "demo": demo,
        "real": real,
        "restored": restored,
        "export": out,
        "archive": archive,
        "folder": folder,
    }


@pytest.mark.parametrize("name", ["demo", "real", "restored"])
def test_the_command_line_makes_private_stores_under_umask_0022(
    built: dict[str, Path], name: str
) -> None:
    root = built[name]
    assert (root / "CURRENT").is_file() and any((root / "versions").iterdir())
    assert exposed(root) == []


def test_what_the_commands_write_into_the_store_is_private(built: dict[str, Path]) -> None:
    real = built["real"]
    # Each kind of file the rule names was actually written.
    for part in ("versions", "audit", "auth", "sandboxes", "briefings", "exports", "pins"):
        assert (real / part).is_dir(), part
    assert (real / "auth" / "users.sqlite").is_file()
    assert stat.S_IMODE(built["export"].stat().st_mode) == 0o600
    assert stat.S_IMODE(built["archive"].stat().st_mode) == 0o600
    # Outside the store the umask of the caller is left alone (a report, a briefing copy).
    assert stat.S_IMODE(built["folder"].stat().st_mode) == 0o755


@pytest.fixture()
def restore_umask() -> Iterator[None]:
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def test_the_dashboard_keeps_a_store_private_under_umask_0022(
    demo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_umask: None
) -> None:
    """A store made before the rule (files 0644, folders 0755) and a dashboard started with
    umask 0022: after a sign-in, pages, a query in the sandbox and an export, nothing under
    the store is readable by others, what the dashboard wrote itself included."""
    target = tmp_path / "store"
    shutil.copytree(demo_store.root, target, ignore=shutil.ignore_patterns("*.lock", "audit"))
    store = Store(target)
    store.write(lambda con: con.execute("UPDATE store_meta SET value = 'false' WHERE key = 'demo'"))
    users = UserStore(target, hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    users.add_user("u_office", "office", actor="test", password=PASSWORD)
    shutil.rmtree(target / "audit")  # written again by the dashboard, under its umask
    for folder, _dirs, files in os.walk(target):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    assert exposed(target)
    monkeypatch.setenv("XUNCHA_DB", str(target))
    monkeypatch.delenv("XUNCHA_TRUSTED_USER_HEADER", raising=False)
    os.umask(0o022)
    st.cache_data.clear()
    st.cache_resource.clear()
    ui.clear_caches()
    try:
        at = AppTest.from_file(APP, default_timeout=180)
        at.query_params["asof"] = AS_OF.isoformat()
        at.session_state["_token"] = users.start_session(users.access_for("u_office"))
        at.run()
        at.switch_page("pages/sql_console.py")
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()
        ui.clear_caches()
    assert (target / "audit").is_dir()
    assert exposed(target) == []


def test_private_tree_and_umask(tmp_path: Path, restore_umask: None) -> None:
    os.umask(0o022)
    tmp_path.chmod(0o755)
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f").write_text("x")
    os.symlink("/etc/hostname", tmp_path / "a" / "link")
    assert [p for p, _ in exposed(tmp_path)] == [".", "a", "a/b", "a/b/f"]
    assert private_tree(tmp_path) == 4
    assert exposed(tmp_path) == []
    assert stat.S_IMODE((tmp_path / "a" / "b" / "f").stat().st_mode) == 0o600
    assert stat.S_IMODE(Path("/etc/hostname").stat().st_mode) & 0o044  # not followed
    assert private_umask() == 0o022
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "g").write_text("y")
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "new" / "g").stat().st_mode) == 0o600

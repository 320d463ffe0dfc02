"""The whole store's sandbox prepared at write time: the same rows, comments and locks as a
sandbox built on demand, used only for the scope it was built for and only without clue
details, kept for the current version alone, and a failure that loses nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from xuncha import cli, demo
from xuncha.filters import Filters, resolve_scope
from xuncha.sandbox import Sandbox, SandboxError, SandboxProblem, SandboxRefused, prepare
from xuncha.sandbox import build as sandbox_build
from xuncha.store import Store, open_reader

USER = "测试员"


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("prepared") / "store")
    store.write(lambda con: demo.build(con, findings=1200), fresh=True)
    return store


def _scope(store: Store, filters: Filters | None = None):
    reader = open_reader(store)
    try:
        return resolve_scope(reader, filters or Filters(as_of=dt.date(2026, 11, 20)))
    finally:
        reader.close()


def _last_round(store: Store):
    """The scope of the store's last round only (a narrower scope than the whole store)."""
    reader = open_reader(store)
    try:
        last = int(reader.query("rounds_list")["seq"].to_list()[-1])
    finally:
        reader.close()
    return _scope(store, Filters(round_from=last, round_to=last, as_of=dt.date(2026, 11, 20)))


def _prepared(store: Store) -> list[Path]:
    return sorted((store.root / sandbox_build.PREPARED).glob("*.duckdb"))


def _findings(store: Store) -> int:
    con = store.connect()
    try:
        row = con.execute("SELECT count(*) FROM findings").fetchone()
        assert row is not None
        return int(row[0])
    finally:
        con.close()


def _contents(box: Sandbox) -> dict[str, tuple[int, int]]:
    """Every table's row count and a hash of all its rows (order-independent)."""
    tables = box.run(
        "SELECT table_name FROM duckdb_tables() ORDER BY 1", user=USER, max_rows=1000
    ).frame["table_name"]
    out = {}
    for table in tables:
        row = box.run(
            f'SELECT count(*) AS n, coalesce(sum(hash(t)), 0)::VARCHAR AS h FROM "{table}" t',
            user=USER,
        ).frame.row(0)
        out[table] = (int(row[0]), int(row[1]))
    return out


def _built(store: Store, scope, monkeypatch: pytest.MonkeyPatch, **kwargs) -> Sandbox:
    """A sandbox built from the store's rows, as if nothing were prepared."""
    with monkeypatch.context() as m:
        m.setattr(sandbox_build, "copy_prepared", lambda *a, **k: None)
        return Sandbox.for_scope(store, scope, cache=False, **kwargs)


@pytest.fixture()
def no_building(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Records every build from the store's rows (a prepared copy is not one)."""
    calls: list[str] = []
    real = sandbox_build.build_file

    def spy(*args, **kwargs):
        calls.append("built")
        return real(*args, **kwargs)

    monkeypatch.setattr(sandbox_build, "build_file", spy)
    yield calls


def test_prepare_writes_the_current_versions_file_once(
    small_store: Store, no_building: list[str]
) -> None:
    path = prepare(small_store)
    assert path is not None and path.is_file()
    assert path.name.startswith(f"{small_store.version():06d}-")
    assert _prepared(small_store) == [path]
    assert no_building == ["built"]
    stamp = path.stat().st_mtime_ns
    assert prepare(small_store) == path  # already there: nothing built again
    assert no_building == ["built"] and path.stat().st_mtime_ns == stamp
    # Nothing else is left in the folder (staging is removed), and only its owner may enter.
    folder = path.parent
    assert sorted(p.name for p in folder.iterdir()) == [".lock", path.name]
    assert folder.stat().st_mode & 0o077 == 0


def test_the_whole_store_opens_from_the_prepared_file_with_the_same_rows_and_locks(
    small_store: Store, monkeypatch: pytest.MonkeyPatch, no_building: list[str]
) -> None:
    path = prepare(small_store)
    assert path is not None
    no_building.clear()
    scope = _scope(small_store)
    box = Sandbox.for_scope(small_store, scope, clue_details=False, cache=False)
    try:
        assert no_building == []  # copied, not built
        reference = _built(small_store, scope, monkeypatch, clue_details=False)
        try:
            assert no_building == ["built"]
            ours = _contents(box)
            assert ours == _contents(reference)
            assert (
                ours["findings"][0] == _findings(small_store)
                and "clue_counts" in ours
                and "clues" not in ours
            )
            assert box.schema().equals(reference.schema())  # comments and examples too
        finally:
            reference.close()
        # Locked like a built one: no file can be read, the prepared file included, and the
        # database's own path is a private copy already unlinked, not the store's.
        with pytest.raises(SandboxRefused):
            box.run(f"SELECT count(*) FROM read_blob('{path}')", user=USER)
        where = box.run(
            "SELECT path FROM duckdb_databases() WHERE database_name = 'xuncha'", user=USER
        ).frame["path"][0]
        assert str(small_store.root) not in where and not Path(where).exists()
        with pytest.raises(SandboxProblem):
            box.run("CREATE TABLE x AS SELECT 1", user=USER)
    finally:
        box.close()
    assert path.is_file()  # the prepared file itself stays for the next reader


def test_clue_details_and_narrower_scopes_are_built_from_the_store(
    small_store: Store, no_building: list[str]
) -> None:
    assert prepare(small_store) is not None
    no_building.clear()
    with_clues = Sandbox.for_scope(small_store, _scope(small_store), clue_details=True, cache=False)
    try:
        assert no_building == ["built"]
        tables = set(with_clues.tables())
        assert "clues" in tables and "clue_counts" not in tables
    finally:
        with_clues.close()
    narrow = _last_round(small_store)
    box = Sandbox.for_scope(small_store, narrow, clue_details=False, cache=False)
    try:
        assert no_building == ["built", "built"]
        seen = box.run("SELECT DISTINCT inspection_id FROM findings", user=USER).frame
        assert set(seen["inspection_id"].to_list()) <= set(narrow.inspection_ids)
        total = box.run("SELECT count(*) AS n FROM inspections", user=USER).frame["n"][0]
        assert total == len(narrow.inspection_ids) < len(_scope(small_store).inspection_ids)
    finally:
        box.close()


def test_a_new_version_keeps_only_its_own_file_and_never_reads_an_older_one(
    tmp_path: Path, no_building: list[str]
) -> None:
    store = Store(tmp_path / "store")
    store.write(lambda con: demo.build(con, findings=300), fresh=True)
    old = prepare(store)
    assert old is not None and no_building == ["built"]
    # A new version with a changed finding: the old file is not used for it.
    store.write(
        lambda con: con.execute("UPDATE findings SET title = '改过的标题' WHERE finding_id = 1")
    )
    scope = _scope(store)
    box = Sandbox.for_scope(store, scope, clue_details=False, cache=False)
    try:
        assert no_building == ["built", "built"]
        title = box.run("SELECT title FROM findings WHERE finding_id = 1", user=USER).frame
        assert title["title"][0] == "改过的标题"
    finally:
        box.close()
    new = prepare(store)
    assert new is not None and new != old
    assert _prepared(store) == [new] and not old.exists()


def test_a_failed_prepare_is_logged_writes_nothing_and_the_sandbox_is_built_on_demand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(tmp_path / "store")
    store.write(lambda con: demo.build(con, findings=300), fresh=True)

    def broken(*args, **kwargs):
        raise SandboxError("无法建立查询沙箱（读取数据仓失败）", reason="build_failed")

    with monkeypatch.context() as m:
        m.setattr(sandbox_build, "build_file", broken)
        assert prepare(store) is None
    assert "could not prepare the sandbox" in caplog.text
    assert _prepared(store) == []
    assert [p.name for p in (store.root / sandbox_build.PREPARED).iterdir()] == [".lock"]
    box = Sandbox.for_scope(store, _scope(store), clue_details=False, cache=False)
    try:
        assert box.run("SELECT count(*) AS n FROM findings", user=USER).frame["n"][0] == _findings(
            store
        )
    finally:
        box.close()


def test_the_demo_command_prepares_the_sandbox(tmp_path: Path) -> None:
    root = tmp_path / "store"
    assert cli.main(["demo", "--db", str(root), "--findings", "300"]) == 0
    store = Store(root)
    assert [p.name[:6] for p in _prepared(store)] == [f"{store.version():06d}"]
    # And it is the file the whole store's sandbox is opened from.
    con = duckdb.connect(str(_prepared(store)[0]), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM findings").fetchone() == (_findings(store),)
    finally:
        con.close()


def test_a_scoped_sandbox_sums_its_own_groups_never_the_whole_stores(small_store: Store) -> None:
    from xuncha.store.reader import load_queries

    narrow = _last_round(small_store)
    queries = load_queries()
    box = Sandbox.for_scope(small_store, narrow, clue_details=False, cache=False)
    try:
        params = {
            "inspection_ids": None,
            "category_l1": None,
            "category_l2": None,
            "as_of": dt.date(2026, 11, 20),
            "by": "round",
            "cycle_median": True,
            "current": True,  # on or after the store's settled_on
        }
        whole = box.run(
            queries["rectification_counts_whole"].sql,
            user=USER,
            params={k: params[k] for k in queries["rectification_counts_whole"].params},
        ).frame
        current = box.run(
            queries["rectification_counts_current"].sql,
            user=USER,
            params={k: params[k] for k in queries["rectification_counts_current"].params},
        ).frame
        assert whole.equals(current) and whole.height == 1  # the one round in scope
        shown = box.run("SELECT count(*) AS n FROM findings", user=USER).frame["n"][0]
        assert whole["findings"][0] == shown < _findings(small_store)
    finally:
        box.close()

"""The versioned store: atomic writes, readers undisturbed by writers, rollback, clear errors."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.builders import copy_store, plain_demo
from xuncha import demo
from xuncha.store import Store, StoreError, open_reader
from xuncha.store.store import KEEP_VERSIONS


def _add_round(name: str, seq: int):
    def apply(con: duckdb.DuckDBPyConnection) -> None:
        con.execute(
            "INSERT INTO rounds VALUES (?, ?, '十四届', ?, '常规', NULL, NULL)", [seq, name, seq]
        )

    return apply


def _rounds(store: Store) -> int:
    reader = open_reader(store)
    try:
        return int(reader.scalar("SELECT count(*) FROM rounds"))
    finally:
        reader.close()


def test_each_write_publishes_a_new_version_and_keeps_the_old_one(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    _, first = store.write(_add_round("第一轮", 1), fresh=True)
    _, second = store.write(_add_round("第二轮", 2))
    assert (first, second) == (1, 2)
    assert store.version() == 2
    assert store.file_for(1).is_file() and store.file_for(2).is_file()
    assert _rounds(store) == 2


def test_a_failed_write_publishes_nothing_and_leaves_no_file(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    store.write(_add_round("第一轮", 1), fresh=True)

    def broken(con: duckdb.DuckDBPyConnection) -> None:
        _add_round("第二轮", 2)(con)
        raise RuntimeError("import failed half way")

    with pytest.raises(RuntimeError):
        store.write(broken)
    assert store.version() == 1
    assert _rounds(store) == 1
    assert sorted(p.name for p in (store.root / "versions").iterdir()) == ["000001.duckdb"]


def test_a_reader_keeps_its_version_while_a_writer_publishes_another(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    store.write(_add_round("第一轮", 1), fresh=True)
    reader = open_reader(store)
    store.write(_add_round("第二轮", 2))
    assert reader.scalar("SELECT count(*) FROM rounds") == 1  # its own snapshot
    assert _rounds(store) == 2  # a new reader sees the new version
    reader.close()


def test_the_command_line_reads_and_writes_while_another_process_holds_the_store(
    tmp_path: Path, store_template: Any
) -> None:
    store = copy_store(store_template("demo", plain_demo), tmp_path / "s")
    holder = open_reader(store)  # as the dashboard would
    try:
        info = subprocess.run(
            [
                sys.executable,
                "-m",
                "xuncha.cli",
                "info",
                "--db",
                str(store.root),
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        assert json.loads(info.stdout)["tables"]["findings"] > 0
        rebuilt = subprocess.run(
            [
                sys.executable,
                "-m",
                "xuncha.cli",
                "demo",
                "--db",
                str(store.root),
                "--seed",
                "7",
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        assert json.loads(rebuilt.stdout)["version"] == 2
        assert holder.scalar("SELECT count(*) FROM findings") > 0
    finally:
        holder.close()
    assert store.version() == 2


def test_pointing_back_restores_an_earlier_version(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    store.write(_add_round("第一轮", 1), fresh=True)
    store.write(_add_round("第二轮", 2))
    store.point_at(1)
    assert _rounds(store) == 1
    with pytest.raises(StoreError, match="没有版本"):
        store.point_at(99)


def test_old_versions_are_pruned_beyond_the_backups_kept(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    store.write(_add_round("r1", 1), fresh=True)
    for seq in range(2, KEEP_VERSIONS + 4):
        store.write(_add_round(f"r{seq}", seq))
    assert len(store.versions()) == KEEP_VERSIONS
    assert store.versions()[-1] == store.version()


def test_a_missing_or_damaged_store_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="数据仓不存在"):
        Store(tmp_path / "nowhere").version()
    damaged = tmp_path / "damaged"
    (damaged / "versions").mkdir(parents=True)
    (damaged / "CURRENT").write_text("000009.duckdb\n", encoding="utf-8")
    with pytest.raises(StoreError, match="版本指针已损坏"):
        Store(damaged).version()


def test_connections_never_autoload_extensions(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    store.write(_add_round("第一轮", 1), fresh=True)
    reader = open_reader(store)
    try:
        assert reader.scalar("SELECT current_setting('autoload_known_extensions')") is False
        assert reader.scalar("SELECT current_setting('autoinstall_known_extensions')") is False
    finally:
        reader.close()


def test_a_pinned_version_survives_pruning_until_it_is_unpinned(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    store.write(_add_round("r1", 1), fresh=True)
    store.pin(1, "简报 2026-11-25 第1期")
    for seq in range(2, KEEP_VERSIONS + 4):
        store.write(_add_round(f"r{seq}", seq))
    assert 1 in store.versions()
    assert len(store.versions()) == KEEP_VERSIONS + 1
    assert _rounds(store) == KEEP_VERSIONS + 3
    con = store.connect(1)  # still readable as it was
    try:
        assert con.execute("SELECT count(*) FROM rounds").fetchone() == (1,)
    finally:
        con.close()
    store.unpin(1, "简报 2026-11-25 第1期")
    store.write(_add_round("last", 99))
    assert 1 not in store.versions()
    assert len(store.versions()) == KEEP_VERSIONS


def test_pins_are_one_file_per_version_and_reason(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    store.write(_add_round("r1", 1), fresh=True)
    store.write(_add_round("r2", 2))
    assert store.pinned() == {}
    store.pin(1, "简报甲")
    store.pin(1, "简报乙")
    store.pin(1, "简报甲")  # the same pin again
    store.pin(2, "简报甲")
    assert store.pinned() == {1: sorted(["简报甲", "简报乙"]), 2: ["简报甲"]}
    names = sorted(p.name for p in (store.root / "pins").iterdir())
    assert len(names) == 3
    digest = hashlib.sha1("简报甲".encode()).hexdigest()[:12]
    pin_file = store.root / "pins" / f"000001-{digest}"
    assert pin_file.read_text(encoding="utf-8") == "简报甲"
    store.unpin(1, "简报甲")
    store.unpin(1, "简报甲")  # unpinning what is not pinned does nothing
    assert store.pinned() == {1: ["简报乙"], 2: ["简报甲"]}


def test_pinning_a_missing_version_or_without_a_reason_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    store.write(_add_round("r1", 1), fresh=True)
    with pytest.raises(StoreError, match="没有版本 7"):
        store.pin(7, "简报")
    with pytest.raises(StoreError, match="原因"):
        store.pin(1, "  ")
    assert store.pinned() == {}


KILL_BETWEEN_COMMIT_AND_CHECKPOINT = """
import os, sys
import duckdb
from xuncha.store import Store, store as store_module

real_connect = duckdb.connect


class Killed:
    # The connection of a write that dies after its COMMIT and before its CHECKPOINT (a kill
    # at that moment leaves the staging file and its WAL behind).
    def __init__(self, con):
        self._con = con

    def execute(self, sql, *args):
        if sql.strip().upper() == "CHECKPOINT":
            os._exit(9)
        return self._con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)


store_module.duckdb.connect = lambda *a, **k: Killed(real_connect(*a, **k))


def apply(con):
    con.execute("INSERT INTO rounds VALUES (99, '被中断的一轮', '十四届', 99, '常规', NULL, NULL)")


Store(sys.argv[1]).write(apply)
"""


def test_a_write_killed_after_its_commit_is_never_published_by_the_next_write(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "s")
    store.write(_add_round("第一轮", 1), fresh=True)
    killed = subprocess.run(
        [sys.executable, "-c", KILL_BETWEEN_COMMIT_AND_CHECKPOINT, str(store.root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert killed.returncode == 9, killed.stderr
    leftovers = sorted(p.name for p in (store.root / "versions").iterdir() if ".tmp" in p.name)
    assert any(name.endswith(".tmp.wal") for name in leftovers), leftovers  # the kill's trace
    assert store.version() == 1
    _, version = store.write(_add_round("第二轮", 2))
    reader = open_reader(store)
    try:
        names = reader.scalar("SELECT list(name ORDER BY name) FROM rounds")
    finally:
        reader.close()
    assert version == 2 and list(names) == ["第一轮", "第二轮"]  # not the killed write's round
    assert not [p for p in (store.root / "versions").iterdir() if ".tmp" in p.name]


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from xuncha import cli

    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("pointer", [None, "garbage\n", "000009.duckdb\n"])
def test_a_store_that_lost_its_pointer_is_refused_until_repaired_never_started_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pointer: str | None
) -> None:
    store = Store(tmp_path / "s")
    store.write(_add_round("第一轮", 1), fresh=True)
    store.write(_add_round("第二轮", 2))
    current = store.root / "CURRENT"
    if pointer is None:
        current.unlink()
    else:
        current.write_text(pointer, encoding="utf-8")
    files = sorted(p.name for p in (store.root / "versions").iterdir())
    # Neither a write nor a new demo starts over it, and reading says what to do.
    with pytest.raises(StoreError, match="xuncha repair"):
        store.write(_add_round("第三轮", 3))
    with pytest.raises(StoreError, match="xuncha repair"):
        store.write(lambda con: demo.build(con), fresh=True)
    code, _, err = _cli(capsys, "metrics", "--db", str(store.root))
    assert code == 1 and "xuncha repair" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in (store.root / "versions").iterdir()) == files
    code, out, _ = _cli(capsys, "repair", "--db", str(store.root))
    assert code == 0 and "版本 2：可用" in out
    assert store.version() == 2 and _rounds(store) == 2
    _, version = store.write(_add_round("第三轮", 3))
    assert version == 3 and _rounds(store) == 3


def test_a_version_number_used_again_after_a_restore_is_another_version_to_every_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streamlit as st

    from xuncha import sandbox, ui
    from xuncha.store.backup import backup, restore

    store = Store(tmp_path / "s")
    store.write(_add_round("第一轮", 1), fresh=True)
    store.write(_add_round("第二轮", 2))
    archive = tmp_path / "backup.tar.gz"
    backup(store.root, archive)
    store.write(_add_round("第三轮", 3))
    monkeypatch.setenv("XUNCHA_DB", str(store.root))
    st.cache_resource.clear()
    before = ui.reader()
    scope = sandbox.build.whole_store(store, 3)
    prepared_before = sandbox.build.prepared_file(store, 3, scope).name
    assert (before.version, before.scalar("SELECT count(*) FROM rounds")) == (3, 3)
    # Restored to version 2, then another write takes the number 3 again.
    restore(archive, store.root, user="测试", force=True)
    store.write(_add_round("另一轮", 4))
    store.write(_add_round("又一轮", 5))
    after = ui.reader()
    assert after.version == 4 and after.scalar("SELECT count(*) FROM rounds") == 4
    store.point_at(3)
    again = ui.reader()
    assert again.version == before.version and again.identity != before.identity
    names = again.scalar("SELECT list(name ORDER BY seq) FROM rounds")
    assert list(names) == ["第一轮", "第二轮", "另一轮"]  # not the replaced version 3
    assert sandbox.build.prepared_file(store, 3, scope).name != prepared_before
    st.cache_resource.clear()


def test_table_counts_are_the_exact_rows_of_every_table(tmp_path: Path) -> None:
    from xuncha.store.reader import table_counts

    store = Store(tmp_path / "s")
    store.write(_add_round("第一轮", 1), fresh=True)
    store.write(_add_round("第二轮", 2))
    reader = open_reader(store)
    try:
        counts = table_counts(reader)
        tables = reader.query("schema_tables")["table_name"].to_list()
    finally:
        reader.close()
    assert list(counts) == tables and "findings" in counts
    assert counts["rounds"] == 2 and counts["findings"] == 0


def test_data_files_are_the_versions_upgraded_copies_and_prepared_sandboxes(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "s")
    store.write(_add_round("第一轮", 1), fresh=True)
    store.write(_add_round("第二轮", 2))
    for folder, name in (
        ("upgraded", "000001.v9.duckdb"),
        ("sandboxes", "000002-abc.duckdb"),
        ("sandboxes", "notes.txt"),
        ("briefings", "stray.duckdb"),
    ):
        (store.root / folder).mkdir(exist_ok=True)
        (store.root / folder / name).write_bytes(b"")
    assert store.data_files() == [
        store.root / "sandboxes" / "000002-abc.duckdb",
        store.root / "upgraded" / "000001.v9.duckdb",
        store.file_for(1),
        store.file_for(2),
    ]
    assert Store(tmp_path / "none").data_files() == []

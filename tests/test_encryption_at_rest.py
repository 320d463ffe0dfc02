"""Encryption at rest, wired into the store (issue 17, item 6): a store written under a key holds
no plaintext on disk, a copy of it without the key reveals none of its data, and every reader of
it (named queries, the dashboard's pages, the SQL sandbox, repair, the audit's anchors, the
command line) gives exactly what it gives on the same store unencrypted.

The kill-at-every-step runs under a key are in tests/test_faults.py (sealed_case).
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import AS_OF
from tests.test_pages import APP, metric_values
from xuncha import audit, cli, demo
from xuncha.sandbox import Sandbox, build
from xuncha.store import Store, StoreError, crypto, open_reader

KEY_TEXT = base64.b64encode(bytes(range(100, 132))).decode()
OTHER_TEXT = base64.b64encode(bytes(range(1, 33))).decode()
DATA_FOLDERS = ("versions", "upgraded", "sandboxes")


@pytest.fixture(scope="module")
def stores(demo_store: Store, tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Store]:
    """The session's demo store (plain) and a copy of it sealed with `xuncha key seal`, then
    written to once more under the key (so it holds a sealed copy and a sealed write)."""
    folder = tmp_path_factory.mktemp("sealed")
    plain = Store(folder / "plain")
    shutil.copytree(demo_store.root, plain.root)
    sealed = Store(folder / "sealed")
    shutil.copytree(demo_store.root, sealed.root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(crypto.ENV_KEY, KEY_TEXT)
        assert cli.main(["key", "seal", "--db", str(sealed.root), "--user", "管理员"]) == 0
        for store in (plain, sealed):  # the same write on both
            store.write(lambda con: con.execute("UPDATE units SET name = name WHERE false"))
        assert cli.main(["info", "--db", str(sealed.root)]) == 0  # prepares nothing, reads
        from xuncha import sandbox

        sandbox.prepare(sealed)
    return plain, sealed


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(crypto.ENV_KEY, KEY_TEXT)
    yield


def _data_files(root: Path) -> list[Path]:
    return sorted(
        p
        for folder in DATA_FOLDERS
        if (root / folder).is_dir()
        for p in (root / folder).iterdir()
        if p.is_file() and ".duckdb" in p.name
    )


def _secrets(store: Store) -> list[bytes]:
    """What the store's data say, read with the key: unit names, problem and clue texts."""
    con = store.connect()
    try:
        texts = [r[0] for r in con.execute("SELECT name FROM units").fetchall()]
        texts += [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT title FROM findings WHERE length(title) >= 8 ORDER BY 1 LIMIT 200"
            ).fetchall()
        ]
    finally:
        con.close()
    return [t.encode("utf-8") for t in texts if t and len(t) >= 4]


def test_every_data_file_of_the_sealed_store_is_sealed(stores: tuple[Store, Store], keyed: None):
    _, sealed = stores
    files = _data_files(sealed.root)
    assert {p.parent.name for p in files} >= {"versions", "sandboxes"}
    assert all(crypto.is_sealed(p) for p in files), [p.name for p in files]
    assert crypto.read_header(sealed.current_file()).key_id == crypto.key_id(
        base64.b64decode(KEY_TEXT)
    )


def test_a_copied_store_without_the_key_reveals_none_of_its_data(
    stores: tuple[Store, Store], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    plain, sealed = stores
    monkeypatch.setenv(crypto.ENV_KEY, KEY_TEXT)
    secrets = _secrets(sealed)
    assert len(secrets) > 50
    # The test can fail: the same scan finds the texts in the plain store's files.
    plain_bytes = b"".join(p.read_bytes() for p in _data_files(plain.root))
    assert sum(s in plain_bytes for s in secrets) > len(secrets) // 2
    monkeypatch.delenv(crypto.ENV_KEY)
    copy = tmp_path / "copy"
    shutil.copytree(sealed.root, copy)
    for path in _data_files(copy):
        data = path.read_bytes()
        found = [s.decode() for s in secrets if s in data]
        assert not found, (path.name, found[:3])
        assert b"DUCK" not in data[:4096]  # not a DuckDB file header
    capsys.readouterr()
    for command in (["info"], ["metrics"], ["sql", "SELECT count(*) FROM units"]):
        assert cli.main([command[0], "--db", str(copy), *command[1:]]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and crypto.ENV_KEY_FILE in err[0] and "已加密" in err[0], err
    monkeypatch.setenv(crypto.ENV_KEY, OTHER_TEXT)
    assert cli.main(["metrics", "--db", str(copy)]) == 1
    assert "另一把密钥" in capsys.readouterr().err
    with pytest.raises(StoreError, match="另一把密钥"):
        Store(copy).connect()


def test_named_queries_and_metrics_are_the_same_on_the_sealed_store(
    stores: tuple[Store, Store], keyed: None, capsys
):
    plain, sealed = stores
    out = {}
    for store in stores:
        capsys.readouterr()
        assert cli.main(["metrics", "--db", str(store.root), "--as-of", AS_OF.isoformat()]) == 0
        out[store.root.name] = json.loads(capsys.readouterr().out)
    assert out["sealed"] == out["plain"] and out["plain"]["findings"] > 0
    for store_ in (plain, sealed):
        reader = open_reader(store_)
        try:
            out[store_.root.name] = reader.query("units_list").sort("unit_id").rows()
        finally:
            reader.close()
    assert out["sealed"] == out["plain"]


def test_the_overview_page_shows_the_same_figures_on_the_sealed_store(
    stores: tuple[Store, Store], keyed: None, monkeypatch: pytest.MonkeyPatch
):
    import streamlit as st

    from xuncha import ui

    shown = {}
    for store in stores:
        monkeypatch.setenv("XUNCHA_DB", str(store.root))
        st.cache_data.clear()
        st.cache_resource.clear()
        ui.clear_caches()
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params.update({"asof": AS_OF.isoformat()})
        at.run()
        at.switch_page("pages/overview.py")
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        shown[store.root.name] = metric_values(at)
    st.cache_data.clear()
    st.cache_resource.clear()
    ui.clear_caches()
    assert shown["sealed"] == shown["plain"] and len(shown["plain"]) >= 4


def test_the_sql_sandbox_of_a_sealed_store_answers_and_builds_only_in_memory(
    stores: tuple[Store, Store], keyed: None
):
    _, sealed = stores
    folder = build.new_folder(sealed)
    try:
        assert crypto.fs_type(folder) in (0x01021994, 0x858458F6)  # tmpfs, ramfs
    finally:
        build.discard(folder)
    answers = {}
    sql = "SELECT count(*) AS n, count(DISTINCT unit_id) AS u FROM findings"
    for store in stores:
        whole = build.whole_store(store, store.version())
        # Without clue details: the prepared file; with them: built from the version itself.
        for details in (False, True):
            box = Sandbox.for_scope(store, whole, clue_details=details, cache=False)
            try:
                answers[store.root.name, details] = box.run(sql, user="测试").frame.rows()
            finally:
                box.close()
    assert answers["sealed", False] == answers["plain", False] == answers["plain", True]
    assert answers["sealed", True] == answers["plain", True] and answers["plain", True][0][0] > 0
    # The prepared sandbox (the whole store's, made at write time) is sealed like a version.
    prepared = sorted((sealed.root / "sandboxes").glob("*.duckdb"))
    assert prepared and all(crypto.is_sealed(p) for p in prepared)


def test_repair_reads_sealed_versions_whole_and_refuses_a_wrong_key(
    stores: tuple[Store, Store], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    _, sealed = stores
    copy = Store(tmp_path / "copy")
    shutil.copytree(sealed.root, copy.root)
    current = copy.current_file()
    data = bytearray(current.read_bytes())
    data[crypto.HEADER_SIZE + 100] ^= 0x01  # one bit in the first chunk
    current.write_bytes(bytes(data))
    monkeypatch.setenv(crypto.ENV_KEY, OTHER_TEXT)
    with pytest.raises(StoreError, match="另一把密钥"):
        copy.repair()
    assert copy.version() == 2  # nothing changed
    monkeypatch.setenv(crypto.ENV_KEY, KEY_TEXT)
    found, chosen = copy.repair()
    assert dict(found) == {2: "加密文件已损坏或被改动（无法解密）", 1: "可用"}
    assert chosen == 1 and copy.version() == 1


def test_the_audit_reads_its_anchors_from_sealed_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(crypto.ENV_KEY, KEY_TEXT)
    store = Store(tmp_path / "store")
    store.write(lambda con: demo.build(con, findings=60), fresh=True)
    audit.record(store.root, user="测试", action="note", source="test")
    store.write(lambda con: None)  # carries the head as its anchor
    assert crypto.is_sealed(store.current_file())
    kept = [a for a in audit.anchors(store.root) if a.source.startswith("数据版本")]
    assert kept and kept[-1].seq == audit.head(store.root)[0]  # type: ignore[index]
    monkeypatch.delenv(crypto.ENV_KEY)
    assert not [a for a in audit.anchors(store.root) if a.source.startswith("数据版本")]


def test_without_a_key_a_write_to_a_sealed_store_is_refused_and_changes_nothing(
    stores: tuple[Store, Store], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    _, sealed = stores
    copy = Store(tmp_path / "copy")
    shutil.copytree(sealed.root, copy.root)
    before = sorted(p.name for p in (copy.root / "versions").iterdir())
    monkeypatch.delenv(crypto.ENV_KEY, raising=False)
    with pytest.raises(StoreError, match="已加密，但未提供数据仓密钥"):
        copy.write(lambda con: None)
    assert sorted(p.name for p in (copy.root / "versions").iterdir()) == before


def test_a_version_of_an_older_layout_is_upgraded_in_memory_and_its_copy_sealed(
    demo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import duckdb

    old = Store(tmp_path / "old")
    shutil.copytree(demo_store.root, old.root, ignore=shutil.ignore_patterns("*.lock"))
    con = duckdb.connect(str(old.current_file()))
    con.execute("DROP TABLE rect_current_inspection")
    con.execute("DELETE FROM store_meta WHERE key = 'current_layout'")
    con.close()
    plain = Store(tmp_path / "plain-old")
    shutil.copytree(old.root, plain.root)
    monkeypatch.setenv(crypto.ENV_KEY, KEY_TEXT)
    old.seal_files(base64.b64decode(KEY_TEXT))
    monkeypatch.delenv(crypto.ENV_KEY)
    expected = open_reader(plain).query("findings_by_category", _params(plain)).rows()
    monkeypatch.setenv(crypto.ENV_KEY, KEY_TEXT)
    reader = open_reader(old)
    try:
        assert reader.query("findings_by_category", _params(old)).rows() == expected
    finally:
        reader.close()
    copies = sorted((old.root / "upgraded").iterdir())
    assert len(copies) == 1 and crypto.is_sealed(copies[0])
    with old.plain_path(old.version()) as name:  # what the sandbox ATTACHes
        assert crypto.fs_type(name) in (0x01021994, 0x858458F6)
        con = duckdb.connect(":memory:")
        con.execute(f"ATTACH '{name}' AS v (READ_ONLY)")
        assert con.execute("SELECT count(*) FROM v.rect_current_inspection").fetchone()[0] > 0
        con.close()
    assert not name.exists()


def _params(store: Store) -> dict:
    from xuncha.filters import Filters, resolve_scope

    reader = open_reader(store)
    try:
        return resolve_scope(reader, Filters(as_of=AS_OF)).params()
    finally:
        reader.close()


def test_a_sealed_version_is_unsealed_once_to_be_attached(
    stores: tuple[Store, Store], keyed: None, monkeypatch: pytest.MonkeyPatch
):
    _, sealed = stores
    calls: list[Path] = []
    real = crypto.unseal_to_memory

    def counting(path: Any, key: bytes, **kwargs: Any) -> crypto.PlainFile:
        calls.append(Path(path))
        return real(path, key, **kwargs)

    monkeypatch.setattr(crypto, "unseal_to_memory", counting)
    with sealed.plain_path(sealed.version()) as name:
        assert crypto.fs_type(name) in (0x01021994, 0x858458F6)
    assert calls == [sealed.current_file()]

"""Encryption at rest (xuncha.store.crypto): a real store version sealed, unsealed into memory and
opened by DuckDB; every alteration of a sealed file refused; keys and key files checked."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from xuncha import demo
from xuncha.store import Store, crypto

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))
SMALL_CHUNK = 256 << 10  # many chunks from a small version


@pytest.fixture(scope="module")
def version(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The file of a real version, written by the store's own code."""
    store = Store(tmp_path_factory.mktemp("crypto") / "store")
    store.write(lambda con: demo.build(con, findings=200), fresh=True)
    return store.current_file()


@pytest.fixture(scope="module")
def sealed(version: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("sealed") / "000001.duckdb"
    crypto.seal(version, target, KEY, chunk_size=SMALL_CHUNK)
    return target


@pytest.fixture()
def copy(sealed: Path, tmp_path: Path) -> Path:
    """A copy of the sealed version, for a test to damage."""
    target = tmp_path / sealed.name
    shutil.copyfile(sealed, target)
    return target


def contents(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """A digest of every table's rows, in any order."""
    out = {}
    for (table,) in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall():
        rows = con.execute(f'SELECT * FROM "{table}"').fetchall()
        out[table] = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
    return out


def findings(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM findings").fetchall()[0][0])
    finally:
        con.close()


def plain_contents(path: Path) -> dict[str, str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return contents(con)
    finally:
        con.close()


def own_folders() -> list[str]:
    """The private folders this process has on the memory file system."""
    return [
        name
        for name in os.listdir(crypto.memory_dir())
        if name.startswith(f"xuncha-plain-{os.getpid()}-")
    ]


def chunk_spans(path: Path) -> list[tuple[int, int]]:
    """(offset, length) of each sealed chunk."""
    header = crypto.read_header(path)
    spans, offset, left = [], crypto.HEADER_SIZE, header.plain_size
    for _ in range(header.chunks):
        length = min(header.chunk_size, left) + crypto.TAG
        spans.append((offset, length))
        offset, left = offset + length, left - (length - crypto.TAG)
    return spans


# -- round trip -----------------------------------------------------------------------------


def test_a_sealed_version_unseals_to_the_same_bytes_and_tables(version: Path, sealed: Path):
    header = crypto.read_header(sealed)
    assert header.plain_size == version.stat().st_size
    assert header.chunks > 4  # the test covers chunking, not a one-chunk file
    assert sealed.stat().st_size == header.sealed_size
    with crypto.unseal_to_memory(sealed, KEY) as plain:
        assert plain.size == version.stat().st_size
        with open(plain.path, "rb") as handle:
            assert (
                hashlib.sha256(handle.read()).digest()
                == hashlib.sha256(version.read_bytes()).digest()
            )
        con = plain.connect(read_only=True)
    # The PlainFile is closed: the connection alone holds the plaintext, and reads it.
    try:
        assert contents(con) == plain_contents(version)
        assert con.execute("SELECT count(*) FROM findings").fetchall() == [(findings(version),)]
    finally:
        con.close()
    assert own_folders() == []  # the name DuckDB opened was removed at once


def test_the_plaintext_lives_on_a_memory_file_system(sealed: Path):
    with crypto.unseal_to_memory(sealed, KEY) as plain:
        assert crypto.fs_type(plain.path) in (0x01021994, 0x858458F6)  # tmpfs, ramfs
        assert stat.S_IMODE(os.stat(plain.path).st_mode) == 0o600
        assert os.stat(plain.path).st_nlink == 0  # anonymous: no name anywhere


def test_duckdb_cannot_open_a_memfd_path(version: Path):
    """Why PlainFile is an O_TMPFILE given a name for the moment DuckDB opens it: DuckDB 2.0.1
    resolves /proc/self/fd/N to "/memfd:… (deleted)" and refuses it. If a DuckDB release
    opens it, this fails and the linking dance in crypto.PlainFile can go."""
    fd = os.memfd_create("xuncha-test", os.MFD_CLOEXEC)
    try:
        os.write(fd, version.read_bytes())
        with pytest.raises(duckdb.IOException, match="memfd"):
            duckdb.connect(f"/proc/self/fd/{fd}", read_only=True).close()
    finally:
        os.close(fd)


def test_a_sealed_file_reveals_none_of_the_plaintext(version: Path, sealed: Path):
    con = duckdb.connect(str(version), read_only=True)
    try:
        names = [row[0] for row in con.execute("SELECT name FROM units").fetchall()]
        texts = [row[0] for row in con.execute("SELECT detail FROM findings").fetchall()]
    finally:
        con.close()
    plain = version.read_bytes()
    secret = sealed.read_bytes()
    # DuckDB compresses strings: look for what the plain file really shows (in its blocks that
    # are not empty, which are a few percent of it: quicker to search).
    blocks = [plain[i : i + 4096] for i in range(0, len(plain), 4096)]
    used = b"\0".join(b for b in blocks if b.count(0) < len(b))
    visible = [
        s.encode("utf-8")
        for s in [*names[:20], *texts[:20], "findings", "units", "store_meta"]
        if s.encode("utf-8") in used
    ]
    assert len(visible) >= 15, "the plain file shows too few strings for the test to mean much"
    assert [s for s in visible if s in secret] == []
    for piece in (plain[:4096], plain[8:12], plain[-4096:]):  # DuckDB's header ("DUCK"), tail
        assert piece not in secret
    # Nor any short run of the plaintext: 32-byte pieces from all over the plain file's data
    # (most of it is empty space), each with enough different bytes to mean something.
    pieces = []
    for block in range(0, len(plain), 4096):
        piece = plain[block + 64 : block + 96]
        if len(set(piece)) >= 8:
            pieces.append(piece)
    assert len(pieces) >= 20
    assert [p for p in pieces[:: max(1, len(pieces) // 100)] if p in secret] == []


def test_sealing_twice_gives_different_files(version: Path, tmp_path: Path):
    crypto.seal(version, tmp_path / "a", KEY)
    crypto.seal(version, tmp_path / "b", KEY)
    assert (tmp_path / "a").read_bytes() != (tmp_path / "b").read_bytes()  # salt per file


@pytest.mark.parametrize("size", [0, 1, SMALL_CHUNK - 1, SMALL_CHUNK, 3 * SMALL_CHUNK + 5])
def test_sizes_at_chunk_boundaries_round_trip(tmp_path: Path, size: int):
    data = os.urandom(size)
    (tmp_path / "plain").write_bytes(data)
    crypto.seal(tmp_path / "plain", tmp_path / "sealed", KEY, chunk_size=SMALL_CHUNK)
    header = crypto.read_header(tmp_path / "sealed")
    assert header.chunks == max(1, -(-size // SMALL_CHUNK))
    assert crypto.verify(tmp_path / "sealed", KEY) == size
    with crypto.unseal_to_memory(tmp_path / "sealed", KEY) as plain, open(plain.path, "rb") as f:
        assert f.read() == data


def test_a_writer_works_in_memory_and_seals_its_result(version: Path, sealed: Path, tmp_path: Path):
    with crypto.unseal_to_memory(sealed, KEY) as work:
        con = work.connect(read_only=False)
        try:
            con.execute("BEGIN TRANSACTION")
            con.execute("CREATE TABLE extra AS SELECT range AS i FROM range(1000)")
            con.execute("INSERT INTO store_meta VALUES ('crypto_test', 'yes')")
            con.execute("COMMIT")
            # The WAL is beside the name DuckDB was given: in the memory folder, gone below.
            [folder] = own_folders()
            assert os.listdir(crypto.memory_dir() / folder) == ["xuncha.duckdb.wal"]
            con.execute("CHECKPOINT")
        finally:
            con.close()
        work.seal(tmp_path / "000002.duckdb", KEY)
    assert own_folders() == []  # its folder (WAL, spill) went with it
    assert crypto.is_sealed(tmp_path / "000002.duckdb")
    with crypto.unseal_to_memory(tmp_path / "000002.duckdb", KEY) as again:
        con = again.connect()
    try:
        assert con.execute("SELECT count(*), sum(i) FROM extra").fetchall() == [(1000, 499500)]
        assert con.execute("SELECT value FROM store_meta WHERE key = 'crypto_test'").fetchall() == [
            ("yes",)
        ]
        assert con.execute("SELECT count(*) FROM findings").fetchall() == [(findings(version),)]
    finally:
        con.close()


def test_a_fresh_database_in_memory(tmp_path: Path):
    with crypto.PlainFile.new_database() as work:
        con = work.connect(read_only=False)
        con.execute("CREATE TABLE t AS SELECT 42 AS answer")
        con.execute("CHECKPOINT")
        con.close()
        work.seal(tmp_path / "fresh", KEY)
    with crypto.unseal_to_memory(tmp_path / "fresh", KEY) as plain:
        con = plain.connect()
    assert con.execute("SELECT answer FROM t").fetchall() == [(42,)]
    con.close()


def test_a_plain_file_is_opened_once(sealed: Path):
    with crypto.unseal_to_memory(sealed, KEY) as plain:
        plain.connect().close()
        with pytest.raises(RuntimeError, match="once"):
            plain.connect()


def test_named_gives_a_name_for_attach_only_while_the_block_runs(version: Path, sealed: Path):
    builder = duckdb.connect(":memory:")
    with crypto.unseal_to_memory(sealed, KEY) as plain, plain.named() as path:
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        builder.execute(f"ATTACH '{path}' AS src (READ_ONLY)")
    assert not path.exists() and not path.parent.exists()
    assert builder.execute("SELECT count(*) FROM src.findings").fetchall() == [(findings(version),)]
    builder.close()


def test_link_to_names_the_file_in_a_memory_folder_only(version: Path, sealed: Path, tmp_path):
    folder = Path(tempfile.mkdtemp(prefix="xuncha-test-", dir=crypto.memory_dir()))
    try:
        with crypto.unseal_to_memory(sealed, KEY) as plain:
            with pytest.raises(crypto.PlainDirError):
                plain.link_to(tmp_path / "x.duckdb")  # not before the first use either
            target = plain.link_to(folder / "xuncha.duckdb")
        assert plain_contents(target) == plain_contents(version)
    finally:
        shutil.rmtree(folder)
    assert list(tmp_path.iterdir()) == []


def test_a_descriptor_opens_the_way_the_query_processes_open_theirs(version: Path, sealed: Path):
    """The sandbox's query processes get the file as a descriptor and open it through a
    symlink to /proc/self/fd/N: DuckDB keeps that path only because the descriptor's own
    link names a folder that no longer exists, which unseal_to_memory sees to."""
    plain = crypto.unseal_to_memory(sealed, KEY)
    fd = os.dup(plain.fd)
    plain.close()
    child = (
        "import os, sys, tempfile, duckdb\n"
        "fd = int(sys.argv[1]); folder = tempfile.mkdtemp()\n"
        "link = os.path.join(folder, 'xuncha.duckdb'); os.symlink(f'/proc/self/fd/{fd}', link)\n"
        "con = duckdb.connect(link, read_only=True); os.unlink(link); os.rmdir(folder)\n"
        "print(con.execute('SELECT count(*) FROM findings').fetchall()[0][0])\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", child, str(fd)],
            pass_fds=[fd],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        os.close(fd)
    assert done.returncode == 0, done.stderr[-1000:]
    assert int(done.stdout) == findings(version)


def test_connect_read_only_takes_sealed_and_plain_files(version: Path, sealed: Path):
    expected = plain_contents(version)
    for path in (sealed, version):
        con = crypto.connect_read_only(path, KEY, {"threads": 1})
        try:
            assert contents(con) == expected
        finally:
            con.close()
    con = crypto.connect_read_only(version, None)  # a store not yet encrypted
    con.close()
    with pytest.raises(crypto.KeyFileError, match="已加密，但未提供"):
        crypto.connect_read_only(sealed, None)
    with pytest.raises(crypto.WrongKey):
        crypto.connect_read_only(sealed, OTHER)


# -- refused ----------------------------------------------------------------------------------


def refused(path: Path, kind: type[crypto.CryptoError], match: str, key: bytes = KEY) -> None:
    """Every way of reading the file refuses it, leaving nothing in memory or on disk."""
    fds = len(os.listdir("/proc/self/fd"))
    with pytest.raises(kind, match=match):
        crypto.unseal_to_memory(path, key)
    with pytest.raises(kind, match=match):
        crypto.verify(path, key)
    assert len(os.listdir("/proc/self/fd")) == fds
    assert own_folders() == []


def test_a_wrong_key_is_refused_by_name(copy: Path):
    refused(copy, crypto.WrongKey, "另一把密钥", key=OTHER)
    with pytest.raises(crypto.WrongKey, match=crypto.key_id(KEY)):
        crypto.verify(copy, OTHER)


def test_cutting_the_last_chunk_is_refused(copy: Path):
    offset, _ = chunk_spans(copy)[-1]
    os.truncate(copy, offset)
    refused(copy, crypto.Damaged, "被截断")


def test_cutting_mid_chunk_is_refused(copy: Path):
    offset, length = chunk_spans(copy)[2]
    os.truncate(copy, offset + length // 2)
    refused(copy, crypto.Damaged, "被截断")


def test_cutting_into_the_header_is_refused(copy: Path):
    os.truncate(copy, 20)
    refused(copy, crypto.Damaged, "文件头不完整")


def test_a_cut_hidden_by_editing_the_header_is_refused(copy: Path):
    """The last chunk dropped and the header's size made to agree: the header is part of every
    chunk's authenticated data, so the first chunk already fails."""
    spans = chunk_spans(copy)
    header = crypto.read_header(copy)
    os.truncate(copy, spans[-1][0])
    fewer = header.plain_size - (spans[-1][1] - crypto.TAG)
    with open(copy, "r+b") as handle:
        handle.seek(16)
        handle.write(fewer.to_bytes(8, "big"))
    refused(copy, crypto.Damaged, "第 1/")


def test_bytes_added_at_the_end_are_refused(copy: Path):
    with open(copy, "ab") as handle:
        handle.write(b"\0")
    refused(copy, crypto.Damaged, "多出")


@pytest.mark.parametrize(
    ("where", "kind", "match"),
    [
        ("data", crypto.Damaged, "第 4/"),  # inside the 4th chunk's ciphertext
        ("tag", crypto.Damaged, "第 2/"),  # the last byte of the 2nd chunk (its tag)
        ("last", crypto.Damaged, "校验失败"),  # the file's very last byte
        ("salt", crypto.Damaged, "第 1/"),  # the header's salt: another derived key
        ("key_id", crypto.WrongKey, "另一把密钥"),
        ("magic", crypto.NotSealed, "不是加密的数据文件"),
        ("format", crypto.Damaged, "格式版本"),
    ],
)
def test_a_flipped_byte_is_refused(copy: Path, where: str, kind: type, match: str):
    spans = chunk_spans(copy)
    at = {
        "data": spans[3][0] + 1000,
        "tag": spans[1][0] + spans[1][1] - 1,
        "last": copy.stat().st_size - 1,
        "salt": 40,
        "key_id": 24,
        "magic": 0,
        "format": 8,
    }[where]
    data = bytearray(copy.read_bytes())
    data[at] ^= 0x01
    copy.write_bytes(bytes(data))
    refused(copy, kind, match)


def test_reordered_chunks_are_refused(copy: Path):
    spans = chunk_spans(copy)
    (a, length), (b, length_b) = spans[1], spans[2]
    assert length == length_b
    data = bytearray(copy.read_bytes())
    data[a : a + length], data[b : b + length] = data[b : b + length], data[a : a + length]
    copy.write_bytes(bytes(data))
    refused(copy, crypto.Damaged, "第 2/")


def test_a_chunk_from_another_file_is_refused(version: Path, copy: Path, tmp_path: Path):
    """The same plaintext sealed again with the same key: its chunks are not interchangeable."""
    crypto.seal(version, tmp_path / "twin", KEY, chunk_size=SMALL_CHUNK)
    offset, length = chunk_spans(copy)[1]
    data = bytearray(copy.read_bytes())
    data[offset : offset + length] = (tmp_path / "twin").read_bytes()[offset : offset + length]
    copy.write_bytes(bytes(data))
    refused(copy, crypto.Damaged, "第 2/")


def test_a_plain_duckdb_file_is_not_sealed(version: Path):
    assert crypto.is_sealed(version) is False
    assert crypto.is_sealed(version.parent / "missing") is False
    with pytest.raises(crypto.NotSealed):
        crypto.unseal_to_memory(version, KEY)


def test_small_files_round_trip_through_bytes(tmp_path: Path):
    data = "整改佐证材料：某某单位 2026 年第三轮巡察反馈问题整改情况".encode() * 5000
    crypto.seal_bytes(data, tmp_path / "evidence.docx", KEY)
    assert "整改佐证材料".encode() not in (tmp_path / "evidence.docx").read_bytes()
    assert crypto.unseal_bytes(tmp_path / "evidence.docx", KEY) == data
    assert crypto.verify(tmp_path / "evidence.docx", KEY) == len(data)
    with pytest.raises(crypto.CryptoError, match="上限"):
        crypto.unseal_bytes(tmp_path / "evidence.docx", KEY, limit=1000)
    raw = bytearray((tmp_path / "evidence.docx").read_bytes())
    raw[100] ^= 4
    (tmp_path / "evidence.docx").write_bytes(bytes(raw))
    with pytest.raises(crypto.Damaged):
        crypto.unseal_bytes(tmp_path / "evidence.docx", KEY)
    crypto.seal_bytes(b"", tmp_path / "empty", KEY)
    assert crypto.unseal_bytes(tmp_path / "empty", KEY) == b""


# -- rotation ---------------------------------------------------------------------------------


def test_rotation_leaves_a_file_for_the_new_key_only(copy: Path, version: Path):
    os.chmod(copy, 0o640)
    assert crypto.rotate(copy, KEY, OTHER) is True
    assert sorted(p.name for p in copy.parent.iterdir()) == [copy.name]  # no temp file left
    assert stat.S_IMODE(copy.stat().st_mode) == 0o640
    assert crypto.read_header(copy).key_id == crypto.key_id(OTHER)
    refused(copy, crypto.WrongKey, "另一把密钥", key=KEY)
    with crypto.unseal_to_memory(copy, OTHER) as plain, open(plain.path, "rb") as handle:
        assert handle.read() == version.read_bytes()
    # Run again (a rotation that was interrupted and restarted): nothing to do.
    assert crypto.rotate(copy, KEY, OTHER) is False


def test_rotation_refuses_a_damaged_file_and_leaves_it(copy: Path):
    offset, _ = chunk_spans(copy)[3]
    data = bytearray(copy.read_bytes())
    data[offset + 5] ^= 0x80
    copy.write_bytes(bytes(data))
    with pytest.raises(crypto.Damaged, match="第 4/"):
        crypto.rotate(copy, KEY, OTHER)
    assert copy.read_bytes() == bytes(data)
    assert sorted(p.name for p in copy.parent.iterdir()) == [copy.name]


def test_rotation_with_the_wrong_old_key_is_refused(copy: Path):
    before = copy.read_bytes()
    with pytest.raises(crypto.WrongKey):
        crypto.rotate(copy, OTHER, bytes(32))
    assert copy.read_bytes() == before


def test_sealing_a_plain_file_in_place(version: Path, tmp_path: Path):
    target = tmp_path / "000001.duckdb"
    shutil.copyfile(version, target)
    assert crypto.seal_in_place(target, KEY) is True
    assert crypto.is_sealed(target)
    assert crypto.seal_in_place(target, KEY) is False
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]
    with crypto.unseal_to_memory(target, KEY) as plain:
        con = plain.connect()
    assert contents(con) == plain_contents(version)
    con.close()


# -- keys ---------------------------------------------------------------------------------------


def test_a_new_key_file_is_private_and_loads(tmp_path: Path):
    path = tmp_path / "keys" / "store.key"
    path.parent.mkdir()
    ident = crypto.new_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = crypto.load_key(tmp_path / "store", {crypto.ENV_KEY_FILE: str(path)})
    assert key is not None and len(key) == 32 and crypto.key_id(key) == ident
    assert ident in path.read_text()  # the note line names the key
    with pytest.raises(FileExistsError):
        crypto.new_key_file(path)  # never overwrites a key


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o620])
def test_a_key_file_others_can_reach_is_refused(tmp_path: Path, mode: int):
    path = tmp_path / "store.key"
    crypto.new_key_file(path)
    os.chmod(path, mode)
    with pytest.raises(crypto.KeyFileError, match="chmod 600"):
        crypto.load_key(None, {crypto.ENV_KEY_FILE: str(path)})


def test_a_key_file_inside_the_store_is_refused(tmp_path: Path):
    root = tmp_path / "store"
    (root / "versions").mkdir(parents=True)
    path = root / "versions" / "store.key"
    crypto.new_key_file(path)
    with pytest.raises(crypto.KeyFileError, match="数据仓目录"):
        crypto.load_key(root, {crypto.ENV_KEY_FILE: str(path)})
    # Reached through a link from outside: still inside.
    (tmp_path / "link.key").symlink_to(path)
    with pytest.raises(crypto.KeyFileError, match="数据仓目录"):
        crypto.load_key(root, {crypto.ENV_KEY_FILE: str(tmp_path / "link.key")})


def test_keys_from_the_environment(tmp_path: Path):
    assert crypto.load_key(tmp_path, {}) is None
    assert crypto.load_key(tmp_path, {crypto.ENV_KEY: "  ", crypto.ENV_KEY_FILE: ""}) is None
    as_b64 = {crypto.ENV_KEY: base64.b64encode(KEY).decode()}
    assert crypto.load_key(tmp_path, as_b64) == KEY
    assert crypto.load_key(tmp_path, {crypto.ENV_KEY: KEY.hex().upper()}) == KEY
    for bad in ("short", base64.b64encode(KEY[:16]).decode(), KEY.hex()[:-1] + "g"):
        with pytest.raises(crypto.KeyFileError, match="格式不对"):
            crypto.load_key(tmp_path, {crypto.ENV_KEY: bad})
    path = tmp_path / "k"
    crypto.new_key_file(path)
    with pytest.raises(crypto.KeyFileError, match="只设置其一"):
        crypto.load_key(tmp_path / "s", {**as_b64, crypto.ENV_KEY_FILE: str(path)})
    with pytest.raises(crypto.KeyFileError, match="不存在"):
        crypto.load_key(None, {crypto.ENV_KEY_FILE: str(tmp_path / "missing")})


# -- the memory folder --------------------------------------------------------------------------


def test_a_folder_on_disk_is_refused_for_plaintext(sealed: Path, tmp_path: Path):
    if crypto.fs_type(tmp_path) in (0x01021994, 0x858458F6):
        pytest.skip("the temp folder is itself on tmpfs here")
    with pytest.raises(crypto.PlainDirError, match="不在内存文件系统"):
        crypto.unseal_to_memory(sealed, KEY, plain_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_full_memory_folder_is_a_clear_error(sealed: Path, monkeypatch: pytest.MonkeyPatch):
    usage = shutil.disk_usage(crypto.memory_dir())
    monkeypatch.setattr(crypto.shutil, "disk_usage", lambda _: usage._replace(free=1 << 20))
    with pytest.raises(crypto.PlainDirError, match="空间不足"):
        crypto.unseal_to_memory(sealed, KEY)
    monkeypatch.undo()

    def full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    fds = len(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(crypto, "_pwrite_all", full)
    with pytest.raises(crypto.PlainDirError, match="空间不足"):
        crypto.unseal_to_memory(sealed, KEY)
    assert len(os.listdir("/proc/self/fd")) == fds


def test_sweep_removes_what_a_killed_process_left(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    gone = int(done.stdout)
    memory = crypto.memory_dir()
    left = memory / f"xuncha-plain-{gone}-test"
    mine = memory / f"xuncha-plain-{os.getpid()}-test"
    for folder in (left, mine):
        folder.mkdir(mode=0o700)
        (folder / "xuncha.duckdb").write_bytes(b"plain")
    try:
        assert left in crypto.sweep()
        assert not left.exists()
        assert mine.exists()  # a running process's: kept
    finally:
        shutil.rmtree(left, ignore_errors=True)
        shutil.rmtree(mine, ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_leftovers() -> Iterator[None]:
    yield
    assert own_folders() == []

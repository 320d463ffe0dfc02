"""Encryption at rest: sealing the store's files with a key kept outside the store.

A sealed file is the plaintext file cut into chunks (4 MiB), each encrypted and authenticated
with AES-256-GCM under a key derived for that file alone (HKDF-SHA256 from the store key and a
random 16-byte salt in the file's header), the nonce being the chunk's index. Every chunk's
associated data is the whole header, the chunk's index and whether it is the last one, so a
changed header, a chunk moved, cut, dropped or added, a flipped bit and a wrong key are each
refused with a Chinese message (CryptoError), never read as garbage. The header names the key
by an id (8 bytes of a SHA-256 of the key, which tells nothing about the key), so a wrong key
is told apart from a damaged file before anything is decrypted.

    header (48 bytes): magic "XCSEALED" | format 1 | algorithm 1 (AES-256-GCM) | 0 0
                       | chunk size (u32) | plaintext size (u64) | key id (8) | salt (16)
    then ceil(size / chunk) chunks (one, empty, for an empty file), each ciphertext + 16-byte tag

The key: XUNCHA_STORE_KEY_FILE names a file holding 32 random bytes in base64 or hex (lines
starting with # are notes), readable by its owner only and outside the store directory; or
XUNCHA_STORE_KEY holds the same text. Neither set: the store is not encrypted.

Where plaintext lives. DuckDB opens a database only by name, and DuckDB 2.0.1 resolves the name
(readlink) before opening it. `/proc/self/fd/N` of a memfd resolves to "/memfd:NAME (deleted)":
read-only, DuckDB refuses it as missing; read-write, it creates a new empty database on disk
under that resolved name, in the root folder (so a memfd path must never be given to DuckDB).
Only when the resolved name's folder does not exist does DuckDB keep the path it was given
(then a read-only open of a descriptor path works, but a writer's WAL, "<path>.wal", cannot be
made under /proc). So a decrypted file is an anonymous file (O_TMPFILE, mode 0600) on a memory
file system (tmpfs: /dev/shm, or XUNCHA_PLAIN_DIR; anything else is refused), and to be opened
it is given a real name in a fresh 0700 folder there (linkat of /proc/self/fd/N) just long
enough for DuckDB to open it, then unlinked: DuckDB keeps its own descriptor, and the memory is
freed once both it and the PlainFile let go. Linux lets an O_TMPFILE be linked only once (a
second linkat after the unlink fails), so a PlainFile is opened once; unseal again for another
connection. Nothing here writes plaintext to a disk: not the decrypted file, not a DuckDB WAL or
spill (beside the name, in the memory folder, or nowhere). Memory pages may still reach a swap
device: run without swap, or with encrypted swap.

Where it is used (a store key set):
- Store (store.py): `write` works on `PlainFile.new_database()` (fresh), `unseal_to_memory`
  (sealed) or `PlainFile.copy_of` (a plain store becoming encrypted), then seals the result into
  its staging file before the pending marker and rename (crash point `write.sealed`);
  `readable_file` upgrades in memory and seals the copy; readers, `check_version`, `_opens`
  open through `connect_read_only`; `plain_path` gives a name to ATTACH a version by; a wrong
  or missing key is its own line, never "damaged"; `_remove_leftovers` also `sweep`s;
  `seal_files` seals or rotates every version and upgraded copy (`xuncha key seal|rotate`,
  crash point `seal.file`).
- Sandbox (sandbox/build.py): built in `memory_dir()` from the version's plaintext; the prepared
  file sealed under sandboxes/ and unsealed into the (memory) build folder when used.
- Briefing archive (briefing/archive.py): every file sealed with `seal_bytes`.
- Backup and restore copy sealed files as they are and check them by unsealing.
- `audit._version_anchors` and `demo.real_contents` unseal versions to read them.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import ctypes
import datetime as dt
import errno
import functools
import hashlib
import os
import re
import secrets
import shutil
import stat
import struct
import tempfile
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import duckdb
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ENV_KEY_FILE = "XUNCHA_STORE_KEY_FILE"
ENV_KEY = "XUNCHA_STORE_KEY"
ENV_PLAIN_DIR = "XUNCHA_PLAIN_DIR"
DEFAULT_PLAIN_DIR = "/dev/shm"

MAGIC = b"XCSEALED"
FORMAT = 1
ALGORITHM = 1  # AES-256-GCM, per-file key by HKDF-SHA256, nonce = chunk index
CHUNK = 4 << 20
KEY_BYTES = 32
TAG = 16
_HEADER = struct.Struct(">8sBBHIQ8s16s")
HEADER_SIZE = _HEADER.size  # 48
_MIN_CHUNK = 4 << 10
_MAX_CHUNK = 64 << 20
_KEY_ID_LABEL = b"xuncha store key id v1\x00"
_HKDF_INFO = b"xuncha sealed file v1"
_DIR_PREFIX = "xuncha-plain-"
_DB_NAME = "xuncha.duckdb"
# Memory file systems (statfs f_type): tmpfs and ramfs.
_MEMORY_FS = {0x01021994: "tmpfs", 0x858458F6: "ramfs"}
_KEY_FILE_LIMIT = 4096


class CryptoError(Exception):
    """An encryption problem, with a message fit to show a user (Chinese)."""


class KeyFileError(CryptoError):
    """The key could not be had: the key file or variable is missing, unsafe or malformed."""


class NotSealed(CryptoError):
    """The file is not a sealed file (no magic): a plain DuckDB file, or something else."""


class WrongKey(CryptoError):
    """The file was sealed with another key (or its header's key id is damaged)."""


class Damaged(CryptoError):
    """The sealed file is truncated, extended, reordered or altered."""


class PlainDirError(CryptoError):
    """The memory folder for plaintext is missing, not a memory file system, or full."""


# -- keys ---------------------------------------------------------------------------------


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def key_id(key: bytes) -> str:
    """The key's id as written in sealed files' headers (16 hex digits)."""
    return _key_id(key).hex()


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(_KEY_ID_LABEL + key).digest()[:8]


def parse_key(text: str) -> bytes:
    """32 bytes from their base64 (44 characters) or hex (64 characters) text; lines starting
    with # are notes. KeyFileError when the text is neither."""
    lines = [line.strip() for line in text.splitlines()]
    body = "".join(line for line in lines if line and not line.startswith("#"))
    if re.fullmatch(r"[0-9A-Fa-f]{64}", body):
        return bytes.fromhex(body)
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == KEY_BYTES:
        return raw
    raise KeyFileError(
        "数据仓密钥格式不对：须为 32 字节（256 位）随机数的 base64（44 个字符）"
        "或十六进制（64 个字符）；可用 new_key_file 生成"
    )


def load_key(
    store_root: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> bytes | None:
    """The store key from XUNCHA_STORE_KEY_FILE or XUNCHA_STORE_KEY; None when neither is set
    (an unencrypted store). A key file must be a regular file that only its owner can read
    or write, outside `store_root` (a copy of the store must not carry its key)."""
    env = os.environ if environ is None else environ
    file_name = env.get(ENV_KEY_FILE, "").strip()
    text = env.get(ENV_KEY, "").strip()
    if file_name and text:
        raise KeyFileError(
            f"同时设置了 {ENV_KEY_FILE} 与 {ENV_KEY}：请只设置其一（密钥文件或环境变量）"
        )
    if text:
        return parse_key(text)
    if not file_name:
        return None
    return read_key_file(Path(file_name), store_root)


def read_key_file(path: Path, store_root: str | os.PathLike[str] | None = None) -> bytes:
    """The key in `path`, after the checks of load_key (made on the file as opened)."""
    if store_root is not None:
        real = Path(os.path.realpath(path))
        root = Path(os.path.realpath(store_root))
        if real == root or real.is_relative_to(root):
            raise KeyFileError(
                f"密钥文件 {path} 位于数据仓目录 {store_root} 之内：复制或备份数据仓时会连同密钥"
                f"一起带走。请把密钥文件移到数据仓之外（并相应修改 {ENV_KEY_FILE}）"
            )
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise KeyFileError(f"密钥文件不存在：{path}（见 {ENV_KEY_FILE}）") from None
    except OSError as exc:
        raise KeyFileError(f"无法读取密钥文件 {path}：{exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(f"密钥文件 {path} 不是普通文件")
        if info.st_mode & 0o077:
            raise KeyFileError(
                f"密钥文件 {path} 的权限为 {stat.S_IMODE(info.st_mode):o}，同组或其他用户也可读写；"
                f"已拒绝使用。请运行 chmod 600 {path}"
            )
        if info.st_size > _KEY_FILE_LIMIT:
            raise KeyFileError(f"密钥文件 {path} 过大，不是数据仓密钥文件")
        raw = os.read(fd, _KEY_FILE_LIMIT + 1)
    finally:
        os.close(fd)
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise KeyFileError(f"密钥文件 {path} 不是 ASCII 文本，不是数据仓密钥文件") from None
    return parse_key(text)


def new_key_file(path: str | os.PathLike[str]) -> str:
    """Write a fresh random key to `path` (which must not exist), mode 0600, and return its id.
    The file holds a note line (the key id and when it was made) and the key in base64."""
    target = Path(path)
    key = new_key()
    made = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    text = f"# xuncha store key, id {key_id(key)}, made {made}\n{base64.b64encode(key).decode()}\n"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        _write_all(fd, text.encode("ascii"))
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        target.unlink(missing_ok=True)
        raise
    os.close(fd)
    _fsync_dir(target.parent)
    return key_id(key)


# -- the sealed format -----------------------------------------------------------------------


@dataclass(frozen=True)
class SealedHeader:
    format: int
    chunk_size: int
    plain_size: int
    key_id: str  # hex
    salt: bytes
    raw: bytes  # the header's bytes, part of every chunk's associated data

    @property
    def chunks(self) -> int:
        return _chunk_count(self.plain_size, self.chunk_size)

    @property
    def sealed_size(self) -> int:
        return HEADER_SIZE + self.plain_size + TAG * self.chunks


def _chunk_count(size: int, chunk_size: int) -> int:
    return max(1, -(-size // chunk_size))


def _nonce(index: int) -> bytes:
    return index.to_bytes(12, "big")


def _aad(header: bytes, index: int, final: bool) -> bytes:
    return header + struct.pack(">QB", index, 1 if final else 0)


def _file_aead(key: bytes, salt: bytes) -> AESGCM:
    _check_key_bytes(key)
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_HKDF_INFO).derive(key)
    return AESGCM(derived)


def _check_key_bytes(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise KeyFileError("数据仓密钥须为 32 字节（256 位）")


def is_sealed(path: str | os.PathLike[str]) -> bool:
    """True when the file starts with the sealed files' magic (nothing is checked beyond)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except (FileNotFoundError, IsADirectoryError):
        return False


def read_header(path: str | os.PathLike[str]) -> SealedHeader:
    """The header of a sealed file; NotSealed or Damaged when it has none that reads."""
    with open(path, "rb", buffering=0) as handle:
        return _read_header(handle, Path(path))


def _read_header(handle: BinaryIO, path: Path) -> SealedHeader:
    raw = handle.read(HEADER_SIZE)
    if raw[: len(MAGIC)] != MAGIC:
        raise NotSealed(f"{path} 不是加密的数据文件（缺少加密文件头）")
    if len(raw) < HEADER_SIZE:
        raise Damaged(f"加密文件 {path} 的文件头不完整（文件被截断）")
    magic, fmt, algorithm, reserved, chunk, size, kid, salt = _HEADER.unpack(raw)
    del magic
    if fmt != FORMAT:
        raise Damaged(
            f"加密文件 {path} 的格式版本为 {fmt}，本程序只认得版本 {FORMAT}"
            "（由更新版本的程序写入，或文件头已损坏）"
        )
    if algorithm != ALGORITHM or reserved != 0 or not _MIN_CHUNK <= chunk <= _MAX_CHUNK:
        raise Damaged(f"加密文件 {path} 的文件头已损坏")
    return SealedHeader(fmt, chunk, size, kid.hex(), salt, raw)


def _check_key_id(header: SealedHeader, key: bytes, path: Path) -> None:
    _check_key_bytes(key)
    if header.key_id != key_id(key):
        raise WrongKey(
            f"{path} 由另一把密钥加密（文件的密钥标识 {header.key_id}，当前密钥 {key_id(key)}），"
            f"或其文件头已损坏；请确认 {ENV_KEY_FILE} / {ENV_KEY} 是这个数据仓的密钥"
            "（更换密钥后请用新密钥）"
        )


def _check_length(handle: BinaryIO, header: SealedHeader, path: Path) -> None:
    actual = os.fstat(handle.fileno()).st_size
    if actual != header.sealed_size:
        cut = "被截断" if actual < header.sealed_size else "尾部多出了内容"
        raise Damaged(
            f"加密文件 {path} 长度不符：应为 {header.sealed_size} 字节，实为 {actual} 字节"
            f"（文件{cut}，或文件头已损坏）"
        )


def _plain_chunks(
    handle: BinaryIO, header: SealedHeader, key: bytes, path: Path
) -> Iterator[memoryview]:
    """Each chunk's plaintext, checked, in order (a view valid until the next one)."""
    aead = _file_aead(key, header.salt)
    sealed = bytearray(header.chunk_size + TAG)
    plain = bytearray(header.chunk_size)
    count = header.chunks
    left = header.plain_size
    for index in range(count):
        length = min(header.chunk_size, left)
        into = memoryview(sealed)[: length + TAG]
        if _read_into(handle, into) != length + TAG:
            raise Damaged(f"加密文件 {path} 在第 {index + 1} 块处被截断")
        out = memoryview(plain)[:length]
        try:
            aead.decrypt_into(_nonce(index), into, _aad(header.raw, index, index == count - 1), out)
        except InvalidTag:
            raise Damaged(
                f"加密文件 {path} 的第 {index + 1}/{count} 块校验失败：文件已损坏或被篡改"
                "（内容被改动、数据块被调换或文件头被改）；未读取其中任何数据"
            ) from None
        left -= length
        yield out
    if handle.read(1):
        raise Damaged(f"加密文件 {path} 的末块之后还有内容（文件被追加或已损坏）")


class _Sealer:
    """Writes a sealed file chunk by chunk to an open descriptor."""

    def __init__(self, fd: int, key: bytes, size: int, chunk_size: int = CHUNK) -> None:
        if not _MIN_CHUNK <= chunk_size <= _MAX_CHUNK:
            raise ValueError("chunk size out of range")
        salt = os.urandom(16)
        self.header = _HEADER.pack(
            MAGIC, FORMAT, ALGORITHM, 0, chunk_size, size, _key_id(key), salt
        )
        self.aead = _file_aead(key, salt)
        self.fd, self.size, self.chunk_size = fd, size, chunk_size
        self.count = _chunk_count(size, chunk_size)
        self.index = 0
        self.left = size
        self.out = bytearray(chunk_size + TAG)
        _write_all(fd, self.header)

    def add(self, data: memoryview) -> None:
        if self.index >= self.count or len(data) != min(self.chunk_size, self.left):
            raise CryptoError("加密时数据长度与预期不符（源文件在加密过程中被改动？）")
        sealed = memoryview(self.out)[: len(data) + TAG]
        final = self.index == self.count - 1
        self.aead.encrypt_into(
            _nonce(self.index), data, _aad(self.header, self.index, final), sealed
        )
        _write_all(self.fd, sealed)
        self.index += 1
        self.left -= len(data)

    def finish(self) -> None:
        if self.index != self.count:
            raise CryptoError("加密未完成：数据块数与预期不符")


@contextlib.contextmanager
def _sealing(
    dst: Path, key: bytes, size: int, chunk_size: int = CHUNK, *, mode: int | None = None
) -> Iterator[_Sealer]:
    """A sealer writing the new file `dst` (which must not exist): the caller adds every
    chunk; then the count is checked and the file fsynced. On any failure `dst` is removed.
    `mode`: the file's permissions, set whatever the umask (default: 0666 less the umask)."""
    out = os.open(
        dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666 if mode is None else 0o600
    )
    try:
        if mode is not None:
            os.fchmod(out, mode)
        sealer = _Sealer(out, key, size, chunk_size)
        yield sealer
        sealer.finish()
        os.fsync(out)
    except BaseException:
        os.close(out)
        dst.unlink(missing_ok=True)
        raise
    os.close(out)


def _seal_fd(src_fd: int, dst: Path, key: bytes, chunk_size: int = CHUNK) -> None:
    size = os.fstat(src_fd).st_size
    with _sealing(dst, key, size, chunk_size) as sealer:
        buffer = bytearray(chunk_size)
        offset = 0
        for _ in range(sealer.count):
            view = memoryview(buffer)[: min(chunk_size, size - offset)]
            if _pread_into(src_fd, view, offset) != len(view):
                raise CryptoError("加密时源文件变短了（源文件在加密过程中被改动？）")
            sealer.add(view)
            offset += len(view)
        if os.fstat(src_fd).st_size != size:
            raise CryptoError("加密时源文件长度变了（源文件在加密过程中被改动？）")


def seal(
    src: str | os.PathLike[str] | PlainFile,
    dst: str | os.PathLike[str],
    key: bytes,
    *,
    chunk_size: int = CHUNK,
) -> None:
    """Encrypt the plaintext file `src` (a path, or a PlainFile) into the new file `dst`
    (which must not exist), fsynced. Streamed: a chunk at a time in memory. On failure `dst`
    is removed. The caller moves `dst` into place (os.replace) and fsyncs the folder."""
    _check_key_bytes(key)
    if isinstance(src, PlainFile):
        _seal_fd(src.fd, Path(dst), key, chunk_size)
        return
    fd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _seal_fd(fd, Path(dst), key, chunk_size)
    finally:
        os.close(fd)


def verify(path: str | os.PathLike[str], key: bytes) -> int:
    """Decrypt and check every chunk, keeping nothing; the plaintext size. CryptoError (WrongKey,
    Damaged, NotSealed) when the file would not unseal."""
    where = Path(path)
    with open(where, "rb", buffering=0) as handle:
        header = _read_header(handle, where)
        _check_key_id(header, key, where)
        _check_length(handle, header, where)
        for _ in _plain_chunks(handle, header, key, where):
            pass
    return header.plain_size


def unseal_to_memory(
    path: str | os.PathLike[str], key: bytes, *, plain_dir: str | os.PathLike[str] | None = None
) -> PlainFile:
    """Decrypt a sealed file into an anonymous file in memory (see PlainFile); CryptoError when
    the key is wrong or the file was altered (then nothing is kept)."""
    where = Path(path)
    with open(where, "rb", buffering=0) as handle:
        header = _read_header(handle, where)
        _check_key_id(header, key, where)
        _check_length(handle, header, where)
        plain = PlainFile._anonymous(header.plain_size, plain_dir)
        try:
            offset = 0
            for chunk in _plain_chunks(handle, header, key, where):
                _pwrite_all(plain.fd, chunk, offset)
                offset += len(chunk)
        except BaseException as exc:
            plain.close()
            _raise_if_full(exc, plain.plain_dir, header.plain_size)
            raise
    return plain


def rotate(path: str | os.PathLike[str], old_key: bytes, new_key: bytes) -> bool:
    """Re-seal `path` under `new_key`: decrypted a chunk at a time (never whole, never to disk)
    into a temp file beside it (`<name>.<random>.rotate.tmp`, removed on failure; the store's
    leftover sweep removes one a kill left), fsynced, then moved into place. False when the
    file is already sealed with `new_key` (checked whole): a rotation that was interrupted
    can be run again over all files."""
    where = Path(path)
    _check_key_bytes(new_key)
    if read_header(where).key_id == key_id(new_key):
        verify(where, new_key)
        return False
    staging = where.with_name(f"{where.name}.{uuid.uuid4().hex[:12]}.rotate.tmp")
    with open(where, "rb", buffering=0) as handle:
        header = _read_header(handle, where)
        _check_key_id(header, old_key, where)
        _check_length(handle, header, where)
        mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
        with _sealing(staging, new_key, header.plain_size, header.chunk_size, mode=mode) as sealer:
            for chunk in _plain_chunks(handle, header, old_key, where):
                sealer.add(chunk)
    os.replace(staging, where)
    _fsync_dir(where.parent)
    return True


def seal_in_place(path: str | os.PathLike[str], key: bytes) -> bool:
    """Encrypt a plaintext file where it lies (moving an unencrypted store to encryption):
    sealed into a temp file beside it, fsynced, moved into place. False when it is already
    sealed. The file system frees the old plaintext blocks without overwriting them: a disk
    that held an unencrypted store still holds its data until those blocks are reused."""
    where = Path(path)
    if is_sealed(where):
        return False
    staging = where.with_name(f"{where.name}.{uuid.uuid4().hex[:12]}.seal.tmp")
    seal(where, staging, key)
    try:
        os.chmod(staging, stat.S_IMODE(where.stat().st_mode))
        os.replace(staging, where)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    _fsync_dir(where.parent)
    return True


def reseal(path: str | os.PathLike[str], new_key: bytes, old_key: bytes | None) -> str:
    """Bring one archived file under `new_key` for ``xuncha key seal/rotate``: "sealed" (it was
    plaintext), "unchanged" (already under `new_key`) or "rotated" (it was under `old_key`).
    WrongKey when it is under another key and no `old_key` is given."""
    if seal_in_place(path, new_key):
        return "sealed"
    found = read_header(path).key_id
    if found == key_id(new_key):
        return "unchanged"
    if old_key is None:
        raise WrongKey(f"已由另一把密钥加密（密钥标识 {found}），更换密钥时须提供原密钥")
    rotate(path, old_key, new_key)
    return "rotated"


def seal_bytes(data: bytes, dst: str | os.PathLike[str], key: bytes) -> None:
    """Encrypt `data` (a small file: an archived briefing, an evidence file) into the new
    file `dst`, fsynced; the caller moves it into place."""
    _check_key_bytes(key)
    view = memoryview(data)
    with _sealing(Path(dst), key, len(view)) as sealer:
        for start in range(0, sealer.count * CHUNK, CHUNK):
            sealer.add(view[start : start + CHUNK])


def write_archived(path: Path, data: bytes, key: bytes | None) -> None:
    """An archived document (a briefing, a notice, an evaluation) written once: sealed under
    the store's `key`, plain without one; owner-only, through a staging name moved into place
    (a reader never sees half a file; a killed write's staging file is replaced)."""
    staging = path.with_name(path.name + ".tmp")
    staging.unlink(missing_ok=True)
    if key is None:
        staging.write_bytes(data)
    else:
        seal_bytes(data, staging, key)
    os.chmod(staging, 0o600)
    os.replace(staging, path)


def read_archived(
    path: Path, key: Callable[[], bytes | None], what: str, error: type[Exception]
) -> bytes:
    """An archived document read back: a plain one (written before the store was encrypted)
    as it is, a sealed one with the store's key (`key()` is asked only then). `error`, in
    Chinese and naming the file as `what folder/name` but never the server's path, when there
    is no key, another key, or the file was altered."""
    if not is_sealed(path):
        return path.read_bytes()
    name = f"{what} {path.parent.name}/{path.name}"
    store_key = key()
    if store_key is None:
        raise error(
            f"{name} 已加密，但未提供数据仓密钥：请设置 {ENV_KEY_FILE}（密钥文件）或 {ENV_KEY}"
        )
    try:
        return unseal_bytes(path, store_key)
    except WrongKey:
        raise error(
            f"{name} 由另一把密钥加密，无法解密：请确认 {ENV_KEY_FILE} / {ENV_KEY} 是这个数据仓的"
            "密钥（更换密钥后请用新密钥）"
        ) from None
    except CryptoError as exc:
        detail = str(exc).replace(str(path), f"{path.parent.name}/{path.name}")
        raise error(f"{name} 无法解密：{detail}") from None


def unseal_bytes(path: str | os.PathLike[str], key: bytes, *, limit: int = 256 << 20) -> bytes:
    """The plaintext of a small sealed file, in this process's memory only (Damaged, WrongKey,
    NotSealed as unseal_to_memory; CryptoError above `limit` bytes)."""
    where = Path(path)
    with open(where, "rb", buffering=0) as handle:
        header = _read_header(handle, where)
        _check_key_id(header, key, where)
        _check_length(handle, header, where)
        if header.plain_size > limit:
            raise CryptoError(f"{where} 解密后有 {_mb(header.plain_size)}，超出直接读取的上限")
        out = bytearray(header.plain_size)
        offset = 0
        for chunk in _plain_chunks(handle, header, key, where):
            out[offset : offset + len(chunk)] = chunk
            offset += len(chunk)
    return bytes(out)


def connect_read_only(
    path: str | os.PathLike[str],
    key: bytes | None,
    config: Mapping[str, Any] | None = None,
    *,
    plain_dir: str | os.PathLike[str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to a version file, sealed or not: a sealed one is
    unsealed into memory (the connection then owns the plaintext), a plain one (a store not
    yet encrypted, or a version from before) is opened where it lies. A sealed file without
    a key: KeyFileError. DuckDB's own errors pass through."""
    if not is_sealed(path):
        return duckdb.connect(str(path), read_only=True, config=dict(config or {}))
    if key is None:
        raise KeyFileError(
            f"{path} 已加密，但未提供数据仓密钥：请设置 {ENV_KEY_FILE}（密钥文件）或 {ENV_KEY}"
        )
    with unseal_to_memory(path, key, plain_dir=plain_dir) as plain:
        return plain.connect(read_only=True, config=config)


# -- plaintext in memory ---------------------------------------------------------------------


class PlainFile:
    """A plaintext DuckDB file held only in memory: an anonymous file (O_TMPFILE, 0600) on a
    memory file system, owned through its descriptor. Closing it frees the memory once no
    DuckDB connection opened from it is left either.

    `connect` (or `named`) may be used once per PlainFile (see the module's notes). A writer
    connects read-write, applies its batch, checkpoints and closes the connection, then
    `seal`s the result; a reader connects read-only and may close the PlainFile at once."""

    def __init__(self, fd: int, plain_dir: Path) -> None:
        self._fd = fd
        self.plain_dir = plain_dir
        self._used = False
        self._finalizer = weakref.finalize(self, _release, fd, None)

    # construction

    @classmethod
    def _anonymous(cls, size: int, plain_dir: str | os.PathLike[str] | None) -> PlainFile:
        folder = memory_dir(plain_dir)
        free = shutil.disk_usage(folder).free
        if free < size:
            raise PlainDirError(
                f"内存文件系统 {folder} 空间不足：解密需要 {_mb(size)}，仅剩 {_mb(free)}。"
                f"请加大其容量或用 {ENV_PLAIN_DIR} 指向更大的 tmpfs"
            )
        # Made in a private folder removed at once: the descriptor's link then names a folder
        # that does not exist ("…/xuncha-plain-…/#N (deleted)"), for which DuckDB falls back
        # to the path it was given: a process handed the descriptor can open it through a
        # symlink to /proc/self/fd/N, as the sandbox's query processes do.
        private = _private_folder(folder)
        try:
            fd = os.open(private, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise PlainDirError(
                f"无法在内存文件系统 {folder} 中建立匿名文件：{exc.strerror}"
            ) from None
        finally:
            os.rmdir(private)
        return cls(fd, folder)

    @classmethod
    def copy_of(
        cls, path: str | os.PathLike[str], *, plain_dir: str | os.PathLike[str] | None = None
    ) -> PlainFile:
        """A copy in memory of a plaintext file (a version of a store not yet encrypted)."""
        with open(path, "rb", buffering=0) as handle:
            size = os.fstat(handle.fileno()).st_size
            plain = cls._anonymous(size, plain_dir)
            try:
                buffer = bytearray(CHUNK)
                offset = 0
                while offset < size:
                    view = memoryview(buffer)[: min(CHUNK, size - offset)]
                    got = _read_into(handle, view)
                    if got != len(view):
                        raise CryptoError(f"复制 {path} 时文件变短了")
                    _pwrite_all(plain.fd, view, offset)
                    offset += got
            except BaseException as exc:
                plain.close()
                _raise_if_full(exc, plain.plain_dir, size)
                raise
        return plain

    @classmethod
    def new_database(cls, *, plain_dir: str | os.PathLike[str] | None = None) -> PlainFile:
        """An empty DuckDB database in memory (DuckDB refuses an empty file as a database)."""
        folder = _private_folder(memory_dir(plain_dir))
        try:
            name = folder / _DB_NAME
            offline: dict[str, Any] = {
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
            }
            duckdb.connect(str(name), config=offline).close()
            return cls.copy_of(name, plain_dir=plain_dir)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    # use

    @property
    def fd(self) -> int:
        if not self._finalizer.alive:
            raise ValueError("PlainFile is closed")
        return self._fd

    @property
    def size(self) -> int:
        return os.fstat(self.fd).st_size

    @property
    def path(self) -> str:
        """/proc/self/fd/N: for Python to read the plaintext in this process. DuckDB 2.0.1
        cannot open it (it resolves the link to a name that does not exist): use connect."""
        return f"/proc/self/fd/{self.fd}"

    def link_to(self, target: str | os.PathLike[str]) -> Path:
        """Give the file the name `target` (a new name in a folder on the same memory file
        system, e.g. a sandbox's private folder), which the caller removes. Once per
        PlainFile."""
        where = Path(target)
        memory_dir(where.parent)
        self._claim()
        dir_fd = os.open(where.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            # linkat(AT_SYMLINK_FOLLOW) of an O_TMPFILE: the dst_dir_fd makes CPython call
            # linkat rather than link(), which would link the /proc symlink itself.
            os.link(self.path, where.name, dst_dir_fd=dir_fd, follow_symlinks=True)
        finally:
            os.close(dir_fd)
        return where

    @contextlib.contextmanager
    def named(self, name: str = _DB_NAME) -> Iterator[Path]:
        """A name for the file in a fresh 0700 folder on the memory file system, for as long as
        the block runs (for DuckDB to open or ATTACH it; an open file stays readable once the
        name is gone). The name and the folder, with whatever else was left in it (a WAL),
        are removed when the block ends. Once per PlainFile."""
        folder = self._link(name)
        try:
            yield folder / name
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def connect(
        self, *, read_only: bool = True, config: Mapping[str, Any] | None = None
    ) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection to the file, which holds the plaintext on its own (this
        PlainFile may be closed at once for a reader). Without `temp_directory` in `config`, a
        read-only connection spills nowhere and a read-write one into its private folder on
        the memory file system, removed on close() (so close the connection first). Once per
        PlainFile."""
        settings = dict(config or {})
        if read_only:
            settings.setdefault("temp_directory", "")
            with self.named() as path:
                return duckdb.connect(str(path), read_only=True, config=settings)
        folder = self._link(_DB_NAME)
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _release, self._fd, folder)
        settings.setdefault("temp_directory", str(folder / "spill"))
        try:
            return duckdb.connect(str(folder / _DB_NAME), config=settings)
        finally:
            (folder / _DB_NAME).unlink(missing_ok=True)

    def seal(self, dst: str | os.PathLike[str], key: bytes, *, chunk_size: int = CHUNK) -> None:
        """seal(self, dst, key): encrypt the file as it is now (close any read-write
        connection first, after a CHECKPOINT)."""
        seal(self, dst, key, chunk_size=chunk_size)

    def close(self) -> None:
        self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def __enter__(self) -> PlainFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _claim(self) -> None:
        if self._used:
            raise RuntimeError("a PlainFile is opened once: unseal again for another connection")
        self._used = True

    def _link(self, name: str) -> Path:
        """A fresh private folder holding the file under `name`."""
        self._claim()
        folder = _private_folder(self.plain_dir)
        try:
            dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.link(self.path, name, dst_dir_fd=dir_fd, follow_symlinks=True)
            finally:
                os.close(dir_fd)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return folder


def _raise_if_full(exc: BaseException, folder: Path, size: int) -> None:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.ENOMEM):
        raise PlainDirError(
            f"内存文件系统 {folder} 空间不足：解密需要 {_mb(size)}（{exc.strerror}）。"
            f"请加大其容量或用 {ENV_PLAIN_DIR} 指向更大的 tmpfs"
        ) from None


def _release(fd: int, folder: Path | None) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def memory_dir(plain_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder for plaintext (argument, else XUNCHA_PLAIN_DIR, else /dev/shm), checked to
    be on a memory file system (tmpfs or ramfs): PlainDirError otherwise."""
    folder = Path(plain_dir or os.environ.get(ENV_PLAIN_DIR) or DEFAULT_PLAIN_DIR)
    if not folder.is_dir():
        raise PlainDirError(
            f"解密用的内存目录 {folder} 不存在；请用 {ENV_PLAIN_DIR} 指向一个 tmpfs 目录"
        )
    kind = fs_type(folder)
    if kind not in _MEMORY_FS:
        raise PlainDirError(
            f"解密用的目录 {folder} 不在内存文件系统（tmpfs）上：明文不得写入磁盘。"
            f"请用 {ENV_PLAIN_DIR} 指向一个 tmpfs 目录（如 /dev/shm）"
        )
    return folder


def fs_type(path: str | os.PathLike[str]) -> int:
    """statfs(2)'s f_type of the file system holding `path` (Linux)."""
    buffer = ctypes.create_string_buffer(256)  # struct statfs is 120 bytes on x86-64
    if _libc().statfs(os.fsencode(path), buffer) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(path))
    return ctypes.c_long.from_buffer(buffer).value & 0xFFFFFFFF  # f_type is the first field


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def sweep(plain_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove the private folders (names given to plaintext for DuckDB to open it, a writer's
    WAL) that processes killed meanwhile left on the memory file system; they are this user's
    and name a process that no longer runs. Returns what was removed."""
    folder = memory_dir(plain_dir)
    removed = []
    for entry in folder.glob(f"{_DIR_PREFIX}*"):
        match = re.match(rf"^{_DIR_PREFIX}(\d+)-", entry.name)
        try:
            owner = entry.lstat().st_uid
        except FileNotFoundError:
            continue
        if not match or owner != os.geteuid() or _alive(int(match.group(1))):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _private_folder(plain_dir: Path) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"{_DIR_PREFIX}{os.getpid()}-", dir=plain_dir))


# -- small helpers ---------------------------------------------------------------------------


def _read_into(handle: BinaryIO, view: memoryview) -> int:
    got = 0
    while got < len(view):
        n = handle.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            break
        got += n
    return got


def _pread_into(fd: int, view: memoryview, offset: int) -> int:
    got = 0
    while got < len(view):
        n = os.preadv(fd, [view[got:]], offset + got)
        if n == 0:
            break
        got += n
    return got


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        n = os.pwrite(fd, data, offset)
        data, offset = data[n:], offset + n


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mb(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MB"

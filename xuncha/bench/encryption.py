"""The cost of encryption at rest (issue 17), side by side in one run: the same store plain and
sealed under a key, each step alternated between the two (which goes first changes run by
run), medians in ms.

- open: a reader on the current version and the overview's first query (a sealed version is
  unsealed into memory first: the price of every new reader, e.g. after a write);
- write: one write through the real write path (copy, migrate, refresh the derived tables,
  checkpoint, and for the sealed store work in memory and seal), publishing a version;
- sandbox: 数据查询's sandbox of the whole store with clue details, built from the version;
- seal: `xuncha key seal` of the plain store's current version (once, not a median).

Also the memory a sealed reader holds on the memory file system (the plaintext version).
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from xuncha.bench.timing import median
from xuncha.sandbox import Sandbox, build
from xuncha.store import Store, crypto, open_reader


@contextlib.contextmanager
def _key(text: str | None) -> Iterator[None]:
    """The store key set (or not) in the environment, where Store.key() reads it."""
    before = os.environ.pop(crypto.ENV_KEY, None)
    file_before = os.environ.pop(crypto.ENV_KEY_FILE, None)
    if text is not None:
        os.environ[crypto.ENV_KEY] = text
    try:
        yield
    finally:
        os.environ.pop(crypto.ENV_KEY, None)
        if before is not None:
            os.environ[crypto.ENV_KEY] = before
        if file_before is not None:
            os.environ[crypto.ENV_KEY_FILE] = file_before


def copy_current(source: Store, target: Path) -> Store:
    """A store holding only `source`'s current version (and its CURRENT pointer)."""
    (target / "versions").mkdir(parents=True)
    current = source.current_file()
    shutil.copyfile(current, target / "versions" / current.name)
    (target / "CURRENT").write_text(current.name + "\n", encoding="utf-8")
    return Store(target)


def measure(root: Path, folder: Path, runs: int, writes: int) -> dict[str, Any]:
    """Medians in ms over `runs` alternated pairs (`writes` for the write step)."""
    key_text = base64.b64encode(crypto.new_key()).decode()
    plain = copy_current(Store(root), folder / "enc-plain")
    sealed = copy_current(Store(root), folder / "enc-sealed")
    try:
        started = time.perf_counter()
        with _key(key_text):
            sealed.seal_files(crypto.parse_key(key_text))
        seal_ms = (time.perf_counter() - started) * 1000
        sides: dict[str, tuple[Store, str | None]] = {
            "plain": (plain, None),
            "sealed": (sealed, key_text),
        }

        def step(action: Callable[[Store], Any], count: int) -> dict[str, float]:
            samples: dict[str, list[float]] = {"plain": [], "sealed": []}
            for i in range(count + 1):  # the first pair is the warm-up
                order = ["plain", "sealed"] if i % 2 else ["sealed", "plain"]
                for name in order:
                    store, text = sides[name]
                    with _key(text):
                        begun = time.perf_counter()
                        action(store)
                        if i:
                            samples[name].append((time.perf_counter() - begun) * 1000)
            return _pair(samples)

        out: dict[str, Any] = {
            "runs": max(runs, 1),
            "writes": max(writes, 1),
            "version_mb": round(plain.current_file().stat().st_size / (1 << 20), 1),
            "seal_ms": round(seal_ms, 1),
            "open": step(_open_and_query, max(runs, 1)),
            "sandbox": step(_sandbox, max(runs, 1)),
            "write": step(_write, max(writes, 1)),
        }
        with _key(key_text):
            out["reader_plaintext_mb"] = _plaintext_mb(sealed)
        return out
    finally:
        shutil.rmtree(plain.root, ignore_errors=True)
        shutil.rmtree(sealed.root, ignore_errors=True)


def _pair(samples: dict[str, list[float]]) -> dict[str, float]:
    plain, sealed = median(samples["plain"]), median(samples["sealed"])
    return {
        "plain_ms": round(plain, 1),
        "sealed_ms": round(sealed, 1),
        "extra_ms": round(sealed - plain, 1),
        "ratio": round(sealed / plain, 2) if plain else float("nan"),
    }


def _open_and_query(store: Store) -> None:
    reader = open_reader(store)
    try:
        reader.scalar("SELECT count(*) FROM findings")
    finally:
        reader.close()


def _sandbox(store: Store) -> None:
    whole = build.whole_store(store, store.version())
    box = Sandbox.for_scope(store, whole, clue_details=True, cache=False)
    box.close()


def _write(store: Store) -> None:
    store.write(lambda con: con.execute("UPDATE units SET name = name WHERE false"))


def _plaintext_mb(store: Store) -> float:
    """What one open reader of the sealed store holds on the memory file system: the version's
    plaintext (the anonymous file's size, from the sealed header), whatever else uses it."""
    return round(crypto.read_header(store.current_file()).plain_size / (1 << 20), 1)


def line(measured: dict[str, Any]) -> str:
    """One Chinese line for the log and the text report."""
    parts = [
        f"{label} 明文 {measured[k]['plain_ms']:.0f} ms，加密 {measured[k]['sealed_ms']:.0f} ms"
        f"（+{measured[k]['extra_ms']:.0f} ms，×{measured[k]['ratio']}）"
        for k, label in (
            ("open", "打开版本并查询"),
            ("sandbox", "建查询沙箱"),
            ("write", "写入一个版本"),
        )
    ]
    return (
        "；".join(parts)
        + f"；加密已有版本（{measured['version_mb']} MB）{measured['seal_ms']:.0f} ms；"
        f"每个打开的读者在内存文件系统中占 {measured['reader_plaintext_mb']} MB"
        f"（中位数：打开与沙箱各 {measured['runs']} 次，写入 {measured['writes']} 次，交替进行）"
    )

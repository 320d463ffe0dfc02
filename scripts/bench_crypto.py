"""What encryption at rest costs (xuncha.store.crypto), side by side in one run: sealing and
unsealing a large store version, and DuckDB opening the unsealed file in memory and running a
count and a full scan, beside opening the plain file. Medians of --runs runs (default 7),
the two sides alternating in each run.

    uv run python scripts/bench_crypto.py                      # builds a 100,000-finding demo
    uv run python scripts/bench_crypto.py --findings 1000000
    uv run python scripts/bench_crypto.py --db data/store      # the current version of a store

The plain file is read from the page cache (it was just written or read): the figures are the
cost of the cryptography and of the memory copy, not of a disk.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))
from xuncha import demo  # noqa: E402
from xuncha.store import Store, crypto  # noqa: E402

CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "memory_limit": "1GB",
}
T = TypeVar("T")
COUNT = "SELECT count(*) FROM findings"
SCAN = "SELECT count(*), max(hash(f)) FROM findings f"  # every column of every row read


class Clock:
    """Wall-clock and CPU time (this process, all threads) of each measured step: on a shared,
    busy machine the wall clock also counts the time other processes had the cores."""

    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def time(self, name: str, action: Callable[[], T]) -> T:
        cpu, started = time.process_time(), time.perf_counter()
        result = action()
        self.add(name, time.perf_counter() - started, time.process_time() - cpu)
        return result

    def add(self, name: str, wall: float, cpu: float) -> None:
        self.wall.setdefault(name, []).append(wall)
        self.cpu.setdefault(name, []).append(cpu)

    def last(self, name: str) -> tuple[float, float]:
        return self.wall[name][-1], self.cpu[name][-1]


def query(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    cursor = con.cursor()
    try:
        return cursor.execute(sql).fetchall()
    finally:
        cursor.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--db", help="an existing (unencrypted) store: its current version")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-crypto-"))
    in_memory = crypto.memory_dir() / f"bench-crypto-{os.getpid()}"
    try:
        if args.db:
            version = Store(args.db).current_file()
            what = f"current version of {args.db}"
        else:
            store = Store(work / "store")
            started = time.perf_counter()
            store.write(lambda con: demo.build(con, findings=args.findings), fresh=True)
            spent = time.perf_counter() - started
            version = store.current_file()
            what = f"demo, --findings {args.findings} (built in {spent:.1f} s)"
        if crypto.is_sealed(version):
            raise SystemExit("the version is already sealed: give an unencrypted store")
        size = version.stat().st_size
        mb = size / 1e6
        key = crypto.new_key()
        con = duckdb.connect(str(version), read_only=True, config=CONFIG)
        rows = query(con, COUNT)
        con.close()
        print(f"version: {what}: {mb:.1f} MB, findings {rows}; load {os.getloadavg()[0]:.1f}")
        print(
            f"memory folder: {crypto.memory_dir()}; runs: {args.runs}; chunk {crypto.CHUNK >> 20} MiB"
        )

        clock = Clock()
        sealed = work / "sealed.duckdb"
        copied = work / "copied.duckdb"
        for run in range(args.runs):
            sealed.unlink(missing_ok=True)
            clock.time("seal to disk (incl. fsync)", lambda: crypto.seal(version, sealed, key))
            clock.time("seal to memory fs (no disk)", lambda: crypto.seal(version, in_memory, key))
            in_memory.unlink()
            clock.time("copy to memory fs (floor of unseal)", lambda: _copy(version, in_memory))
            in_memory.unlink()
            clock.time("copy on disk + fsync (write, today)", lambda: _copy(version, copied))
            copied.unlink()
            clock.time("verify (decrypt, keep nothing)", lambda: crypto.verify(sealed, key))
            for side in ["plain", "sealed"] if run % 2 == 0 else ["sealed", "plain"]:
                unseal = (0.0, 0.0)
                if side == "plain":
                    con = clock.time(
                        "plain: open",
                        lambda: duckdb.connect(str(version), read_only=True, config=CONFIG),
                    )
                else:
                    plain = clock.time(
                        "unseal to memory", lambda: crypto.unseal_to_memory(sealed, key)
                    )
                    unseal = clock.last("unseal to memory")
                    con = clock.time(
                        "sealed: open",
                        functools.partial(plain.connect, read_only=True, config=CONFIG),
                    )
                    plain.close()
                counted = clock.time(f"{side}: count", functools.partial(query, con, COUNT))
                clock.time(f"{side}: full scan", functools.partial(query, con, SCAN))
                con.close()
                assert counted == rows
                opened, count = clock.last(f"{side}: open"), clock.last(f"{side}: count")
                clock.add(
                    f"{side}: first answer (unseal+open+count)",
                    unseal[0] + opened[0] + count[0],
                    unseal[1] + opened[1] + count[1],
                )

        print()
        print(
            f"{'measure':42} {'wall median':>12} {'min':>9} {'max':>9} {'MB/s':>6}"
            f" {'cpu median':>11} {'MB/s':>6}"
        )
        for name in clock.wall:
            wall, cpu = statistics.median(clock.wall[name]), statistics.median(clock.cpu[name])
            rates = ("", "")
            if name.startswith(("seal to", "verify ", "unseal to", "copy ")):
                rates = (f"{mb / wall:.0f}", f"{mb / cpu:.0f}" if cpu else "-")
            print(
                f"{name:42} {wall * 1000:10.1f}ms {min(clock.wall[name]) * 1000:7.1f}ms"
                f" {max(clock.wall[name]) * 1000:7.1f}ms {rates[0]:>6} {cpu * 1000:9.1f}ms"
                f" {rates[1]:>6}"
            )
        overhead = size + crypto.read_header(sealed).chunks * crypto.TAG + crypto.HEADER_SIZE
        print(f"\nsealed size: {sealed.stat().st_size} bytes (plain {size}; +{overhead - size})")
        print(f"cpu: {_cpu()}, os.cpu_count {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        in_memory.unlink(missing_ok=True)
    return 0


def _copy(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _cpu() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "?"
    name = next(
        (line.split(":", 1)[1].strip() for line in text.splitlines() if "model name" in line), "?"
    )
    aes = " aes" in next((line for line in text.splitlines() if line.startswith("flags")), "")
    return f"{name} (AES-NI: {'yes' if aes else 'no'})"


if __name__ == "__main__":
    raise SystemExit(main())

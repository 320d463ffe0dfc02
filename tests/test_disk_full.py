"""A full disk, for real: small tmpfs filesystems mounted in a mount namespace of their own
(`unshare`), where the platform allows it (skipped elsewhere; CI's machine allows it).

On a full disk every command says so in one line in Chinese, leaves no partial file holding
the space, and the store goes on reading as before.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import ledger_samples as S
from tests.test_ledger_cli import _import_args
from xuncha import cli

ROOT = Path(__file__).resolve().parents[1]

DRIVER = r"""
import contextlib, io, json, os, shutil, sys
from pathlib import Path
from xuncha import cli
from xuncha.store import Store, store as store_module

args = json.loads(sys.argv[1])
disk = Path(args["disk"])


def run(*argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(list(argv))
    return {"code": code, "err": err.getvalue().strip().splitlines()}


def free():
    return shutil.disk_usage(disk).free


def fill(leave):
    # A filler file that leaves `leave` bytes free on the small disk.
    filler = disk / "filler"
    filler.unlink(missing_ok=True)
    with open(filler, "wb") as out:
        out.truncate(0)
        remaining = free() - leave
        chunk = b"\0" * (1 << 20)
        while remaining > 0:
            out.write(chunk[: min(len(chunk), remaining)])
            remaining -= len(chunk)


def files(root):
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file())


out = {}
store = disk / "store"
# The store and its first ledger on the small disk, copied in from outside.
shutil.copytree(args["store"], store)
before = files(store)

fill(20 << 20)  # less than the write needs (twice the version plus a margin)
space = free()
out["precheck"] = run(*args["import"]) | {"files_same": files(store) == before, "free_same": free() == space}
out["precheck_metrics"] = run("metrics", "--db", str(store))

# Without the check, the copy itself runs into the full disk.
real_check = Store._check_free_space
Store._check_free_space = lambda self, source: None
for leave in (6 << 20, 17 << 20):  # in the copy; in DuckDB's own writes after it
    fill(leave)
    space = free()
    out[f"enospc_{leave >> 20}"] = run(*args["import"]) | {
        "files_same": files(store) == before,
        "free_same": free() == space,
    }
    out[f"enospc_{leave >> 20}_metrics"] = run("metrics", "--db", str(store))
Store._check_free_space = real_check

# A backup onto the full disk: nothing left there.
fill(256 << 10)
space = free()
out["backup"] = run("backup", "--db", args["outside"], "--out", str(disk / "b.tar.gz")) | {
    "left": sorted(p.name for p in disk.iterdir() if p.name not in ("filler", "store")),
    "free_same": free() == space,
}
# A restore onto the full disk: refused before extracting, then (without the check) cut short.
out["restore"] = run("restore", args["archive"], "--db", str(disk / "r"), "--user", "巡察办") | {
    "left": sorted(p.name for p in disk.iterdir() if p.name not in ("filler", "store")),
}
store_module.SPACE_MARGIN = 0
from xuncha.store import backup as backup_module
backup_module.SPACE_MARGIN = -(1 << 40)
out["restore_enospc"] = run("restore", args["archive"], "--db", str(disk / "r"), "--user", "巡察办") | {
    "left": sorted(p.name for p in disk.iterdir() if p.name not in ("filler", "store")),
    "free_same": free() == space,
}
print(json.dumps(out, ensure_ascii=False))
"""


def _namespaced(disk: Path, size: str, script: str, payload: dict[str, Any]) -> dict[str, Any]:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare is missing")
    probe = subprocess.run(
        [unshare, "-rm", "sh", "-c", f"mount -t tmpfs -o size=1m tmpfs {disk}"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace here: {probe.stderr.decode(errors='replace')[:200]}")
    done = subprocess.run(
        [
            unshare,
            "-rm",
            "sh",
            "-c",
            f'mount -t tmpfs -o size={size} tmpfs "$0" && exec "$1" -c "$2" "$3"',
            str(disk),
            sys.executable,
            script,
            json.dumps(payload),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _one_line(result: dict[str, Any], *words: str) -> None:
    assert result["code"] == 1, result
    assert len(result["err"]) == 1, result["err"]  # one line, no traceback
    assert all(word in result["err"][0] for word in words), result["err"]


def test_a_full_disk_is_one_clear_line_and_leaves_nothing_behind(tmp_path: Path) -> None:
    outside = tmp_path / "store"
    merged = S.merged_xlsx(tmp_path / S.MERGED.name)
    progress = S.merged_xlsx(tmp_path / S.PROGRESS.name, progress=True)
    assert cli.main(_import_args(outside, merged)) == 0
    archive = tmp_path / "b.tar.gz"
    assert cli.main(["backup", "--db", str(outside), "--out", str(archive)]) == 0
    disk = tmp_path / "disk"
    disk.mkdir()
    result = _namespaced(
        disk,
        "64m",
        DRIVER,
        {
            "disk": str(disk),
            "store": str(outside),
            "outside": str(outside),
            "archive": str(archive),
            "import": _import_args(disk / "store", progress),
        },
    )
    # Refused before copying anything, saying how much is needed.
    _one_line(result["precheck"], "磁盘空间不足", "未作任何更改")
    assert result["precheck"]["files_same"] and result["precheck"]["free_same"]
    # Run into the full disk in the copy and in DuckDB's own writes: cleaned up, one line.
    for leave in (6, 17):
        _one_line(result[f"enospc_{leave}"], "磁盘空间不足", "写入前的版本")
        assert result[f"enospc_{leave}"]["files_same"], leave
        assert result[f"enospc_{leave}"]["free_same"], leave  # no partial file holds space
    # The store reads as before each time (the issue: even `metrics` failed afterwards).
    for key in ("precheck_metrics", "enospc_6_metrics", "enospc_17_metrics"):
        assert result[key]["code"] == 0, result[key]
    _one_line(result["backup"], "磁盘空间不足", "备份未完成")
    assert result["backup"]["left"] == [] and result["backup"]["free_same"]
    _one_line(result["restore"], "磁盘空间不足")
    assert result["restore"]["left"] == []
    _one_line(result["restore_enospc"], "磁盘空间不足", "恢复未完成")
    assert result["restore_enospc"]["left"] == [] and result["restore_enospc"]["free_same"]

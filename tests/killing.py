"""Commands killed at a crash point (xuncha/store/faults.py) for the fault suites, each in a
process of its own forked from one that has already imported the code.

Started as `python -c CODE ARGS…`, every killed command paid a fresh interpreter's import of
Polars, DuckDB, openpyxl and the package (1–2 s, about a third of a fault test). A forkserver
(multiprocessing's, one per test process) imports them once; each command is a fork of it: a
process of its own still (SIGKILL takes nothing of the test's with it, nothing the test
process holds is shared), with a fresh copy of every module's state, the environment and
working folder the test gives it, and `sys.argv` as `python -c` sets it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import tempfile
from pathlib import Path

from xuncha.store import faults

ROOT = Path(__file__).resolve().parents[1]
# What the forkserver imports before its first fork: what the commands run.
PRELOAD = ["xuncha.cli", "xuncha.rectify.workflow", "xuncha.rectify.evidence", "tests.builders"]

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(PRELOAD)


def _child(code: str, argv: list[str], env: dict[str, str], cwd: str, log: str) -> None:
    """In the forked process: the environment and folder given, its output to `log`, then
    `code` as `-c` runs it."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    out = os.open(log, os.O_WRONLY | os.O_APPEND)
    os.dup2(out, 1)
    os.dup2(out, 2)
    sys.argv = ["-c", *argv]
    try:
        exec(compile(code, "<command>", "exec"), {"__name__": "__main__"})
    except SystemExit as stop:
        code_ = stop.code
        os._exit(code_ if isinstance(code_, int) else (0 if code_ is None else 1))
    os._exit(0)


def run(
    code: str, *argv: str, env: dict[str, str] | None = None, timeout: float = 300
) -> tuple[int, str]:
    """Run `code` with `argv` in a forked process: its exit code (negative: the signal that
    ended it) and the end of what it wrote to stdout and stderr."""
    with tempfile.NamedTemporaryFile("rb", prefix="xuncha-killed-", suffix=".log") as log:
        environment = dict(os.environ if env is None else env)
        process = _CONTEXT.Process(
            target=_child, args=(code, list(argv), environment, str(ROOT), log.name)
        )
        process.start()
        process.join(timeout)
        if process.exitcode is None:  # hung: not what any test expects
            process.kill()
            process.join()
            raise AssertionError(f"the command did not end within {timeout} s: {argv}")
        return int(process.exitcode), log.read()[-2000:].decode(errors="replace")


def killed(code: str, *argv: str, at: str) -> None:
    """Run it with the crash point `at` set and check that it was killed there (SIGKILL), not
    ended another way."""
    exit_code, output = run(code, *argv, env={**os.environ, faults.ENV: at})
    assert exit_code == -signal.SIGKILL, (at, exit_code, output)

"""Import of a 100k-row ledger: validated and imported into an empty store, time and peak
memory of the importing process. Reuses scripts/bench_import.py (its ledger generator and its
measuring subprocess, so the peak RSS is the import's own)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_import.py"


def _script() -> Any:
    if not SCRIPT.is_file():
        raise FileNotFoundError(f"{SCRIPT} is missing (the ledger generator of the benchmark)")
    spec = importlib.util.spec_from_file_location("xuncha_bench_import_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_ledger(path: Path, rows: int) -> tuple[int, int]:
    """A realistic merged-cell ledger .xlsx of about `rows` data rows → (findings, measures)."""
    findings, measures = _script().build(path, rows)
    return int(findings), int(measures)


def import_ledger(folder: Path, rows: int = 100_000) -> dict[str, Any]:
    """Build the ledger, then validate and import it into an empty store in a fresh process
    (`scripts/bench_import.py --measure import`): seconds and that process's peak RSS."""
    folder.mkdir(parents=True, exist_ok=True)
    ledger = folder / f"ledger-{rows}.xlsx"
    started = time.perf_counter()
    findings, measures = build_ledger(ledger, rows)
    built = time.perf_counter() - started
    run = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--measure",
            "import",
            "--file",
            str(ledger),
            "--store",
            str(folder / f"store-import-{rows}"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"ledger import failed: {run.stderr[-2000:]}")
    out = json.loads(run.stdout.strip().splitlines()[-1])
    if not out.get("ok"):
        raise RuntimeError(f"ledger import refused the benchmark ledger: {out.get('errors')}")
    return {
        "rows": rows,
        "findings": findings,
        "measures": measures,
        "ledger_build_s": round(built, 2),
        "import_100k_s": out["seconds"],
        "import_peak_mb": out["peak_rss_mb"],
    }

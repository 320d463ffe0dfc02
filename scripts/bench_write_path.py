"""Side by side: a small ledger import through `xuncha import` on the code of another commit
and on this tree, one process per run, alternating (issue 16's write path: pending marker,
fsyncs, the check before pruning).

    git worktree add /tmp/old <commit> && uv run python scripts/bench_write_path.py /tmp/old
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))
OLD = sys.argv[1]
from tests import ledger_samples as S  # noqa: E402
from tests.test_ledger_cli import _import_args  # noqa: E402
from xuncha import cli  # noqa: E402

work = Path(tempfile.mkdtemp())
merged = S.merged_xlsx(work / S.MERGED.name)
progress = S.merged_xlsx(work / S.PROGRESS.name, progress=True)
base = work / "base"
cli.main(_import_args(base, merged))
RUN = (
    "import sys, time; from xuncha import cli; t = time.perf_counter();"
    " c = cli.main(sys.argv[1:]); print('T', time.perf_counter() - t, file=sys.stderr);"
    " sys.exit(c)"
)
times: dict[str, list[float]] = {f"before ({OLD})": [], "after (this tree)": []}
for i in range(7):
    for name, path in ((f"before ({OLD})", OLD), ("after (this tree)", str(HERE))):
        db = work / f"db-{i}-{name[:5]}"
        shutil.copytree(base, db)
        env = {**os.environ, "PYTHONPATH": path}
        done = subprocess.run(
            [sys.executable, "-c", RUN, *_import_args(db, progress)],
            env=env,
            capture_output=True,
            text=True,
            cwd=path,
        )
        assert done.returncode == 0, done.stderr[-500:]
        lines = [line for line in done.stderr.splitlines() if line.startswith("T ")]
        t = float(lines[-1].split()[1])
        times[name].append(t)
for name, ts in times.items():
    print(
        f"{name}: median {statistics.median(ts) * 1000:.0f} ms over {len(ts)} runs"
        f" (min {min(ts) * 1000:.0f}, max {max(ts) * 1000:.0f})"
    )

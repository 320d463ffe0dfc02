# The two commands of the README: `make run` and `make test`. Both install what they need.
UV := UV_PYTHON_DOWNLOADS=never python3 -m uv run --frozen
PORT ?= 8501

.PHONY: run test lint

run:  ## install, build the demo store on first start, serve the dashboard on port $(PORT)
	@scripts/setup.sh
	$(UV) xuncha serve --port $(PORT)

# mypy's incremental cache lives outside the clone, so a fresh clone on the same machine does not
# type-check numpy, polars and pandas from scratch (≈35 s): mypy re-checks any module whose
# source hash differs from the cached one, so the result is the same as a cold run.
lint:
	$(UV) ruff format --check .
	$(UV) ruff check .
	MYPY_CACHE_DIR="$${XDG_CACHE_HOME:-$$HOME/.cache}/xuncha-mypy" $(UV) mypy
	$(UV) lint-imports

# Two workers on this two-core machine: a third was no quicker (28 min 6 s against 27 min 17 s
# with two, fresh clones of the same code on a quiet machine, 2026-12-07). 21 min 37 s after the
# fault suites forked their killed commands and set-up compiled the bytecode (same day).
test:  ## the whole suite: lint, types, architecture, unit, AppTest and browser tests
	@scripts/setup.sh --browser
	$(MAKE) --no-print-directory lint
	$(UV) pytest -n 2

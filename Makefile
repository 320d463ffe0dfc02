# The two commands of the README: `make run` and `make test`. Both install what they need.
UV := UV_PYTHON_DOWNLOADS=never python3 -m uv run --frozen
PORT ?= 8501

.PHONY: run test lint

run:  ## install, build the demo store on first start, serve the dashboard on port $(PORT)
	@scripts/setup.sh
	$(UV) xuncha serve --port $(PORT)

lint:
	$(UV) ruff format --check .
	$(UV) ruff check .
	$(UV) mypy
	$(UV) lint-imports

test:  ## the whole suite: lint, types, architecture, unit, AppTest and browser tests
	@scripts/setup.sh --browser
	$(MAKE) --no-print-directory lint
	$(UV) pytest -n 2

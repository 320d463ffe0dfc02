"""Shared fixtures: stores built through the real schema, demo generator and store code."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.builders import built_once, copy_store, plain_demo
from xuncha import demo
from xuncha.rectify import demo_activity
from xuncha.store import Reader, Store, open_reader

ROOT = Path(__file__).resolve().parents[1]

# A fixed "today" for tests that compare the pages with the command line.
AS_OF = dt.date(2026, 11, 20)


@pytest.fixture(scope="session", autouse=True)
def _log_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tracebacks of failures (xuncha.failures) go to the session's own folder, for the tests
    and the commands they start, not to the home directory."""
    folder = tmp_path_factory.mktemp("log")
    before = os.environ.get("XUNCHA_LOG_DIR")
    os.environ["XUNCHA_LOG_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("XUNCHA_LOG_DIR", None)
    else:
        os.environ["XUNCHA_LOG_DIR"] = before


StoreTemplate = Callable[[str, Callable[[duckdb.DuckDBPyConnection], object]], Path]


@pytest.fixture(scope="session")
def store_template(tmp_path_factory: pytest.TempPathFactory) -> StoreTemplate:
    """`store_template(name, apply)`: the path of a store written once by `apply` through
    Store.write(fresh=True), shared by the session's xdist workers (their temp folders' common
    parent), to be copied with builders.copy_store and never written itself. A name stands for
    one build: every caller of a name passes the same `apply`. A demo city costs seconds to
    build through the schema and generator and milliseconds to copy."""
    root = tmp_path_factory.getbasetemp()
    shared = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root

    def template(name: str, apply: Callable[[duckdb.DuckDBPyConnection], object]) -> Path:
        return built_once(
            shared / "templates" / name, lambda path: Store(path).write(apply, fresh=True)
        )

    return template


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The demo city with its evidence files, built once for the session's workers and copied
    into each one's own folder (a worker's tests never see another's writes)."""

    def build(path: Path) -> None:
        store = Store(path)
        demo_activity.put_demo_evidence(store)
        store.write(lambda con: demo.build(con), fresh=True)

    root = tmp_path_factory.getbasetemp()
    shared = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    built = built_once(shared / "templates" / "demo_with_evidence", build)
    return copy_store(built, tmp_path_factory.mktemp("demo") / "store")


@pytest.fixture()
def demo_reader(demo_store: Store) -> Iterator[Reader]:
    reader = open_reader(demo_store)
    yield reader
    reader.close()


@pytest.fixture(scope="module")
def demo_con(demo_store: Store) -> Iterator[tuple[Reader, duckdb.DuckDBPyConnection]]:
    """A reader and a plain read-only connection on the demo store, for tests that compare
    the product's answers with their own SQL or Python over the base tables."""
    reader = open_reader(demo_store)
    con = demo_store.connect()
    yield reader, con
    con.close()
    reader.close()


@pytest.fixture()
def app_env(demo_store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """AppTest on the demo store, with every cache cleared before and after: Streamlit's and
    the product's own (built figures, resolved scopes) persist across AppTest runs."""
    import streamlit as st

    from xuncha import ui

    monkeypatch.setenv("XUNCHA_DB", str(demo_store.root))
    st.cache_data.clear()
    st.cache_resource.clear()
    ui.clear_caches()
    yield demo_store
    st.cache_data.clear()
    st.cache_resource.clear()
    ui.clear_caches()


def show_at_most(monkeypatch: pytest.MonkeyPatch, rows: int) -> None:
    """Pages fetch and tables show at most `rows` rows: a page reads the limit as
    ui.TABLE_MAX_ROWS (the package's name), ui.table as its own module's, so both are set."""
    from xuncha import ui
    from xuncha.ui import widgets

    monkeypatch.setattr(ui, "TABLE_MAX_ROWS", rows)
    monkeypatch.setattr(widgets, "TABLE_MAX_ROWS", rows)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium for a module; skipped when absent, failing under CI (where
    scripts/setup.sh --browser installs it)."""
    from tests.browser_support import shot

    if not Path(shot.CHROMIUM).exists():
        reason = f"{shot.CHROMIUM} is missing: run scripts/setup.sh --browser"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    # An expectation waits up to 60 s, not Playwright's 5: a store write behind a button
    # (a done report, a 销号) takes seconds on a busy CI machine.
    expect.set_options(timeout=60_000)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=shot.CHROMIUM, args=shot.CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def demo_dir(
    browser: Browser, store_template: StoreTemplate, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A demo store of a module's own for its browser tests (requests `browser` first, so a
    missing Chromium skips before any work)."""
    path = tmp_path_factory.mktemp("browser_demo") / "store"
    return copy_store(store_template("demo", plain_demo), path).root


@pytest.fixture(scope="module")
def demo_app(browser: Browser, demo_dir: Path) -> Iterator[str]:
    """`demo_dir` served for a module, already visited once through its entry point (a
    freshly started server is test_browser.py's deep-link test's subject, not the others')."""
    from tests.browser_support import shot

    with shot.serve(demo_dir) as base:
        context = browser.new_context(**shot.CONTEXT_OPTIONS)
        try:
            shot.warm_up(context.new_page(), base)
        finally:
            context.close()
        yield base


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies, no storage) for one test."""
    from tests.browser_support import shot

    context = browser.new_context(**shot.CONTEXT_OPTIONS)
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


# The modules that take longest (measured with --durations) are handed out first: under
# `--dist loadscope` a module runs whole on one worker, and a long one handed out last would
# leave the other worker idle at the end. Tests keep their order within a module.
_LONGEST_FIRST = (
    "test_faults.py",
    "test_browser.py",
    "test_ledger_round.py",
    "test_browser_chinese.py",
    "test_workers.py",
    "test_disclosure.py",
    "test_browser_access.py",
    "test_browser_layout.py",
    "test_bench_smoke.py",
    "test_evaluation.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(_LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture
def whole_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests that compare a shown table's rows with the figures, not its paging
    (tests/test_send_less.py pages): every row on one page."""
    from xuncha.ui import widgets

    monkeypatch.setattr(widgets, "TABLE_PAGE_ROWS", 1_000_000)


# -- tmp_path: emptied after a passed test, never reused -----------------------------------
#
# Each test that writes copies a fixture store (tens of MB), so a passed test's tmp_path is
# emptied at its teardown (kept after a failure, to look at). The folder itself stays: pytest
# numbers a test's folder one past the highest there, so with pytest's own
# tmp_path_retention_policy = "failed" (which deletes it) the next test whose name starts the
# same got the very same path, and state this process keeps per path (an audit anchor waiting
# for its users database, xuncha.audit._PENDING) landed in that other test's new store.

_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    if getattr(report, "failed", False):
        item.stash[_FAILED] = True
    return report


@pytest.fixture
def tmp_path(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    yield tmp_path
    # (A test may have removed the folder itself: a sandbox deletes its own work folder.)
    if not request.node.stash.get(_FAILED, False) and tmp_path.is_dir():
        for child in list(tmp_path.iterdir()):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)

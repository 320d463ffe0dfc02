"""Shared fixtures: stores built through the real schema, demo generator and store code."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from xuncha import demo
from xuncha.store import Reader, Store, open_reader

ROOT = Path(__file__).resolve().parents[1]

# A fixed "today" for tests that compare the pages with the command line.
AS_OF = dt.date(2026, 11, 20)


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("demo") / "store")
    store.write(lambda con: demo.build(con), fresh=True)
    return store


@pytest.fixture()
def demo_reader(demo_store: Store) -> Iterator[Reader]:
    reader = open_reader(demo_store)
    yield reader
    reader.close()

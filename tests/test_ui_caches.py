"""The rerun caches of xuncha.ui: a figure is reused only for equal inputs; a scope only for
the same data version, filters, access and day."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import polars as pl
import pytest

from xuncha import charts, ui
from xuncha.ui import data, plotly_charts


@pytest.fixture(autouse=True)
def fresh() -> None:
    ui.clear_caches()


def frame(values: list[int], dtype: type[pl.DataType] = pl.Int64) -> pl.DataFrame:
    return pl.DataFrame(
        {"group_key": [f"单位{i}" for i in range(len(values))], "findings": values},
        schema={"group_key": pl.String, "findings": dtype},
    )


def test_equal_inputs_reuse_the_figure_and_any_difference_builds_anew() -> None:
    calls: list[int] = []

    def build(f: pl.DataFrame, title: str = "") -> object:
        calls.append(f.height)
        return object()

    a = ui.built_figure(build, frame([3, 1, 2]), title="甲")
    assert ui.built_figure(build, frame([3, 1, 2]), title="甲") is a
    assert len(calls) == 1
    for changed in (
        ((frame([3, 1, 4]),), {"title": "甲"}),  # a value
        ((frame([1, 3, 2]),), {"title": "甲"}),  # the order of rows
        ((frame([3, 1, 2], pl.Int32),), {"title": "甲"}),  # a dtype
        ((frame([3, 1]),), {"title": "甲"}),  # a row fewer
        ((frame([3, 1, 2]),), {"title": "乙"}),  # an argument
    ):
        args, kwargs = changed
        assert ui.built_figure(build, *args, **kwargs) is not a
    assert len(calls) == 6


def test_different_builders_never_share_a_figure() -> None:
    data = pl.DataFrame(
        {"unit_name": ["甲"], "category": ["A"], "category_name": ["政治"], "findings": [2]}
    )
    heat = ui.built_figure(charts.heatmap, data)
    assert ui.built_figure(charts.heatmap, data) is heat
    assert ui.built_figure(charts.heatmap, data, title="x") is not heat


def test_the_cache_is_bounded() -> None:
    for i in range(ui.FIGURE_CACHE_ENTRIES + 10):
        ui.built_figure(lambda n: [n], i)
    assert len(data._FIGURES) == ui.FIGURE_CACHE_ENTRIES


def test_a_kept_figure_is_drawn_from_one_dict_equal_to_plotlys_own() -> None:
    import plotly.io
    import plotly.tools

    data = pl.DataFrame(
        {
            "unit_name": ["甲", "乙"],
            "category": ["A", "B"],
            "category_name": ["政治", "作风"],
            "findings": [2, 5],
        }
    )
    heat = ui.built_figure(charts.heatmap, data)
    first, again = (
        plotly_charts._Drawn.of(heat),
        plotly_charts._Drawn.of(ui.built_figure(charts.heatmap, data)),
    )
    # What st.plotly_chart does with it: the same dict object each run, no deep copy ...
    sent = plotly.tools.return_figure_from_figure_or_data(first, validate_figure=True)
    assert sent is first.to_dict() is again.to_dict()
    # ... and the very JSON plotly itself would have sent for the figure.
    own = plotly.tools.return_figure_from_figure_or_data(heat, validate_figure=True)
    assert plotly.io.to_json(sent, validate=False) == plotly.io.to_json(own, validate=False)


def test_a_shared_figure_is_computed_again_when_the_store_configuration_changes(
    tmp_path: Any,
) -> None:
    """ui.figure's result is keyed by the store's configuration files too: a figure that
    reads the period rule itself must not be served stale after an administrator edits it."""
    from xuncha.filters import Scope

    class FakeStore:
        root = tmp_path

    class FakeReader:
        store = FakeStore()
        identity = "v1"

    calls: list[int] = []

    def fn(rd: Any, scope: Any) -> int:
        calls.append(1)
        return len(calls)

    scope = Scope(
        inspection_ids=(1, 2), category_l1=None, category_l2=None, as_of=dt.date(2026, 1, 1)
    )
    data._cached_figure.clear()
    first = data.figure(fn, FakeReader(), scope)
    assert data.figure(fn, FakeReader(), scope) == first == 1  # reused
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "periods.toml").write_text("max_months = 18\n", encoding="utf-8")
    assert data.figure(fn, FakeReader(), scope) == 2  # the rule file is new: computed again
    (tmp_path / "config" / "periods.toml").write_text("max_months = 24\n", encoding="utf-8")
    assert data.figure(fn, FakeReader(), scope) == 3  # and changed: again
    data._cached_figure.clear()


def test_a_page_run_waits_for_a_slot_and_still_stops_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At most PAGE_RUNS page runs at once; one waiting asks Streamlit's yield check every
    poll (which raises when its session is to stop or rerun) and takes no slot then; a run
    that ends in an exception gives its slot back."""
    slots = data._FairSlots(1)
    monkeypatch.setattr(data, "_PAGE_SLOTS", slots)
    monkeypatch.setattr(data, "_SLOT_POLL_S", 0.01)
    asked: list[int] = []

    class Rerun(Exception):
        pass

    def check() -> None:
        asked.append(1)
        if len(asked) == 3:
            raise Rerun

    monkeypatch.setattr(data, "get_run_yield_check", lambda: check)
    with data.page_run_slot():  # the only slot
        with pytest.raises(Rerun), data.page_run_slot():
            raise AssertionError("ran without a slot")
        assert len(asked) == 3
    with pytest.raises(ValueError), data.page_run_slot():
        raise ValueError("the page failed")
    mine = object()
    assert slots.acquire(mine, 0)  # given back both times, and the stopped run left the line
    slots.release()
    released = threading.Event()

    def hold() -> None:
        with data.page_run_slot():
            released.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        asked.clear()
        monkeypatch.setattr(data, "get_run_yield_check", lambda: lambda: asked.append(1))
        timer = threading.Timer(0.05, released.set)
        timer.start()
        with data.page_run_slot():  # waits for the holder, then runs
            assert released.is_set() and asked
    finally:
        released.set()
        holder.join()


def test_page_run_slots_go_to_the_runs_in_the_order_they_asked() -> None:
    slots = data._FairSlots(1)
    holder = object()
    assert slots.acquire(holder, 0)
    entered: list[str] = []
    lined_up = threading.Condition()

    def run(name: str) -> None:
        ticket = object()
        while not slots.acquire(ticket, 0.01):
            with lined_up:
                lined_up.notify_all()
        entered.append(name)
        slots.release()

    threads = []
    for name in "ABCDE":
        thread = threading.Thread(target=run, args=(name,))
        thread.start()
        with lined_up:  # in line (its first wait timed out) before the next one asks
            assert lined_up.wait(5)
        threads.append(thread)
    slots.release()
    for thread in threads:
        thread.join(5)
    assert entered == list("ABCDE")

"""Real-browser test of the chart clicks: in headless Chromium a click on a heatmap cell, a
treemap tile and a bar reaches Streamlit (heatmaps send no selection of their own: each cell
holds an invisible marker, charts.heatmap) and the findings behind it appear directly under
the chart, within one screen of the click."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser_support import shot

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser_drill")]


def click_at(page: Page, key: str, x: float, y: float) -> None:
    """Point at (x, y) until the chart shows the hover label of what is there, then click."""
    page.mouse.move(x, y)
    expect(page.locator(f".st-key-{key} .hoverlayer .hovertext").first).to_be_visible()
    page.mouse.click(x, y)


def assert_listed_under(page: Page, key: str, click_y: float) -> None:
    """The findings list of chart `key` appears below the click, within one screen of it."""
    listing = page.locator(f".st-key-{key}_drill_findings")
    expect(listing).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    box = listing.bounding_box()
    assert box is not None
    height = shot.VIEWPORT["height"]
    assert click_y < box["y"] < click_y + height, (click_y, box)


def plot_box(page: Page, key: str, selector: str) -> Any:
    chart = page.locator(f".st-key-{key} .js-plotly-plot").first
    chart.scroll_into_view_if_needed()
    box = chart.locator(selector).first.bounding_box()
    assert box is not None
    return box


def test_a_click_on_a_heatmap_cell_lists_its_findings_under_the_chart(
    demo_app: str, page: Page
) -> None:
    path, title, charts = shot.PAGES["distribution"]
    shot.open_page(page, demo_app + path, title=title, charts=charts)
    area = plot_box(page, "dist_heatmap", ".nsewdrag")
    # The lowest row's first cell, away from its centre: the whole cell answers a click.
    x, y = area["x"] + area["width"] * 0.04, area["y"] + area["height"] - 6
    click_at(page, "dist_heatmap", x, y)
    assert_listed_under(page, "dist_heatmap", y)
    expect(page.locator("h5").filter(has_text="的问题").first).to_be_visible()


def test_a_click_on_a_treemap_tile_lists_its_findings_under_the_chart(
    demo_app: str, page: Page
) -> None:
    path, title, charts = shot.PAGES["distribution"]
    shot.open_page(page, demo_app + path, title=title, charts=charts)
    area = plot_box(page, "dist_treemap", ".main-svg")
    x, y = area["x"] + area["width"] * 0.25, area["y"] + area["height"] * 0.5
    click_at(page, "dist_treemap", x, y)
    assert_listed_under(page, "dist_treemap", y)


def test_a_click_on_a_bar_lists_its_findings_under_the_chart(demo_app: str, page: Page) -> None:
    path, title, charts = shot.PAGES["overview"]
    shot.open_page(page, demo_app + path, title=title, charts=charts)
    bar = plot_box(page, "overview_by_round", ".trace.bars .point path")
    x, y = bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2
    click_at(page, "overview_by_round", x, y)
    assert_listed_under(page, "overview_by_round", y)
    heading = page.locator("h5").filter(has_text="｜").first
    expect(heading).to_be_visible()

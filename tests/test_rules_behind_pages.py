"""Rules the pages used to apply themselves, now in the package where every caller shares
them: the round the 政治生态 page scores first, the note on a round still inside its
rectification time, findings per inspection, the unit a clicked bar stands for, and how an
edited briefing is read back."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import polars as pl
import pytest

from tests.conftest import AS_OF
from xuncha import charts, figures
from xuncha.briefing.model import Briefing, Chart, Paragraph, Section, Table
from xuncha.figures import periods
from xuncha.filters import Filters, resolve_scope
from xuncha.ui.plotly_charts import _inert_figure, selected_points

# -- the round the scorecards open on ---------------------------------------------------------


def ecology_rounds(*rows: tuple[int, int]) -> pl.DataFrame:
    """(round_id, seq) rows, in the order the query lists them."""
    return pl.DataFrame(
        {"round_id": [r for r, _ in rows], "seq": [s for _, s in rows]},
        schema={"round_id": pl.Int32, "seq": pl.Int32},
    )


@pytest.mark.parametrize(
    ("rows", "finished", "expected"),
    [
        ([(1, 1), (2, 2), (3, 3)], {1, 2}, 2),  # the latest past its rectification period
        ([(1, 1), (2, 2), (3, 3)], set(), 3),  # none: the latest round
        ([(1, 1), (2, 2), (3, 3)], {7}, 3),  # a finished round outside the scope
        ([(5, 2), (4, 1)], {4, 5}, 5),  # latest by seq, not by place in the list
        ([(9, 1)], {9}, 9),
    ],
)
def test_the_default_round_is_the_latest_finished_else_the_latest(
    rows: list[tuple[int, int]], finished: set[int], expected: int
) -> None:
    assert figures.default_ecology_round(ecology_rounds(*rows), frozenset(finished)) == expected


def test_there_is_no_default_round_without_rounds() -> None:
    assert figures.default_ecology_round(ecology_rounds(), frozenset({1})) is None


def test_on_the_demo_the_default_round_is_the_one_before_the_one_still_in_rectification(
    demo_reader: Any,
) -> None:
    scope = resolve_scope(demo_reader, Filters(as_of=AS_OF))
    rounds = demo_reader.query(
        "ecology_rounds", {"inspection_ids": scope.ids_param(), "as_of": scope.as_of}
    )
    finished = periods.finished_rounds(demo_reader, scope.ids_param(), scope.as_of)
    assert 9 not in finished and 8 in finished
    assert figures.default_ecology_round(rounds, finished) == 8


# -- a round still inside its rectification time ----------------------------------------------


@pytest.mark.parametrize(
    ("measures", "done", "not_due", "expected"),
    [
        (10, 4, 3, True),  # 3 of 6 open measures not yet due: half
        (10, 4, 2, False),
        (10, 10, 0, False),  # nothing open
        (10, 0, 10, True),
        (0, 0, 0, False),
    ],
)
def test_a_round_reads_low_as_normal_progress_when_half_its_open_measures_are_not_due(
    measures: int, done: int, not_due: int, expected: bool
) -> None:
    row = {"measures": measures, "measures_done": done, "measures_not_due": not_due}
    assert figures.mostly_not_due(row) is expected


# -- findings per inspection ------------------------------------------------------------------


def test_findings_per_inspection_sums_each_group_before_dividing() -> None:
    peer = pl.DataFrame(
        {
            "peer_group": ["乡镇街道", "市直部门", "乡镇街道"],
            "sector": ["农业", "政法", "教育"],
            "inspections": [2, 4, 1],
            "findings": [5, 10, 2],
            "units": [2, 3, 1],
        }
    )
    density = figures.findings_density(peer, "peer_group")
    assert density.rows() == [("乡镇街道", 3, 7, 3, 2.3), ("市直部门", 4, 10, 3, 2.5)]
    assert density.columns == [
        "peer_group",
        "inspections",
        "findings",
        "units",
        "findings_per_inspection",
    ]
    by_sector = figures.findings_density(peer, "sector")
    assert by_sector["findings_per_inspection"].to_list() == [2.5, 2.5, 2.0]


# -- the unit a clicked bar stands for --------------------------------------------------------

TRICKY = ["市住建局（n=3）", "市住建局", "<b>市&统计局</b>（样本不足）"]


def units_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "group_key": TRICKY,
            "group_id": ["11", "12", "13"],
            "findings": [3, 9, 2],
            "findings_done": [1, 9, 0],
            "completion_rate": [33.33, 100.0, 0.0],
            "overdue_measures": [1, 0, 2],
            "small_sample": [True, False, True],
        }
    )


def clicks(fig: Any) -> list[dict[str, Any]]:
    """Every bar of the figure as Streamlit hands back its click: the drawn (escaped) label
    and customdata of the point, unescaped by ui.selected_points."""
    trace = _inert_figure(fig.to_dict())["data"][0]
    points = [
        {"y": y, "customdata": list(c)}
        for y, c in zip(trace["y"], trace["customdata"], strict=True)
    ]
    return selected_points(SimpleNamespace(selection=SimpleNamespace(points=points)))


@pytest.mark.parametrize(
    "build",
    [
        lambda f: charts.rate_ranking(f, "completion_rate", "整改完成率"),
        charts.top_units,
    ],
)
def test_a_clicked_bar_gives_its_units_id_whatever_the_units_name_holds(build: Any) -> None:
    frame = units_frame()
    name_of = dict(frame.select("group_id", "group_key").rows())
    points = clicks(build(frame))
    picked = [charts.clicked_group(p) for p in points]
    assert sorted(picked) == ["11", "12", "13"]
    for point, group_id in zip(points, picked, strict=True):
        # The bar's label is the unit's name with notes added to it.
        assert str(point["y"]).startswith(name_of[group_id])
    # Cutting the label at "（n=" named the wrong unit.
    ranking = clicks(charts.rate_ranking(frame, "completion_rate", "整改完成率"))
    first = next(p for p in ranking if charts.clicked_group(p) == "11")
    assert str(first["y"]).split("（n=")[0] == "市住建局" != name_of["11"]


def test_a_point_without_customdata_stands_for_no_unit() -> None:
    assert charts.clicked_group({"y": "市住建局（n=3）"}) is None
    assert charts.clicked_group({"customdata": []}) is None


# -- an edited briefing -----------------------------------------------------------------------


def draft() -> Briefing:
    table = Table("表1", ["单位"], [["市住建局"]])
    chart = Chart("图1", {"data": []})
    return Briefing(
        title="关于巡察整改情况的报告",
        subtitle_lines=[],
        sections=[
            Section(
                "overall",
                "总体情况",
                blocks=[Paragraph("第一段。"), table, Paragraph("第二段。"), chart],
            ),
            Section("suggestions", "下步工作建议", blocks=[Paragraph("（请填写）")]),
        ],
    )


def test_an_edited_briefing_keeps_untouched_text_drops_emptied_paragraphs_and_splits_suggestions() -> (
    None
):
    original = draft()
    edited = original.with_edits(
        {(0, 0): "  改写的第一段。 ", (0, 2): "   ", (1, 0): "一要加强。\n\n\n二要落实。\n\n"}
    )
    overall, suggestions = edited.sections
    assert [type(b).__name__ for b in overall.blocks] == ["Paragraph", "Table", "Chart"]
    assert overall.blocks[0] == Paragraph("改写的第一段。", written=False)
    assert suggestions.blocks == [
        Paragraph("一要加强。", written=True),
        Paragraph("二要落实。", written=True),
    ]
    # The draft itself is unchanged; without edits the text is kept (stripped).
    assert original.to_dict() == draft().to_dict()
    assert original.with_edits({}).sections[0].blocks[2] == Paragraph("第二段。")

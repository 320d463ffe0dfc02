"""The 政治生态研判 page renders on the demo store, its ranking equals
`xuncha.figures.ecology.scorecards` for the same scope, every score carries 研判参考, and a unit
profile shows its explanation."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from tests.builders import unit_names
from tests.conftest import AS_OF
from xuncha.figures import ecology
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Store, open_reader

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "pages/ecology.py"
LABEL = ecology.LABEL


@pytest.fixture(scope="module")
def app_file() -> str:
    assert f'"{PAGE}"' in Path(APP).read_text(encoding="utf-8"), "app.py must register the page"
    return APP


def open_page(app_file: str, **state: object) -> AppTest:
    at = AppTest.from_file(app_file, default_timeout=60)
    at.query_params["asof"] = AS_OF.isoformat()
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def expected_cards(store: Store, round_id: int) -> ecology.Scorecards:
    reader = open_reader(store)
    try:
        scope = resolve_scope(reader, Filters(as_of=AS_OF))
        rounds = reader.query(
            "ecology_rounds", {"inspection_ids": list(scope.inspection_ids), "as_of": AS_OF}
        )
        ids = rounds.filter(pl.col("round_id") == round_id)["inspection_ids"][0].to_list()
        return ecology.scorecards(reader, dataclasses.replace(scope, inspection_ids=tuple(ids)))
    finally:
        reader.close()


def test_the_page_renders_with_every_score_labelled(app_env: Store, app_file: str) -> None:
    at = open_page(app_file)
    assert at.title[0].value == "政治生态研判"
    assert any(LABEL in w.value for w in at.warning)
    assert at.get("plotly_chart"), "no chart drawn"
    assert any("统计截至 2026-11-20" in c.value for c in at.caption)
    # Every table holding a score or a grade says 研判参考 in its header and on every row.
    scored = [
        f.value
        for f in at.dataframe
        if {"得分（研判参考）", "等次（研判参考）"} & set(f.value.columns)
    ]
    assert len(scored) >= 2
    for frame in scored:
        assert (frame["标注"] == LABEL).all()
    for metric in at.metric:
        if metric.label.startswith(("得分", "等次", *ecology.GRADES, ecology.SMALL_SAMPLE)):
            assert LABEL in metric.label, metric.label


@pytest.mark.parametrize("round_id", [None, 9])
def test_the_ranking_equals_scorecards_for_the_same_scope(
    app_env: Store, app_file: str, round_id: int | None
) -> None:
    at = open_page(app_file, **({} if round_id is None else {"eco_round": round_id}))
    chosen = at.selectbox(key="eco_round").value
    assert chosen is not None
    if round_id is not None:
        assert chosen == round_id
    cards = expected_cards(app_env, int(chosen))
    expected = ecology.peer_ranking(cards)
    shown = next(f.value for f in at.dataframe if "同类组排名" in f.value.columns)
    assert unit_names(shown["单位"]) == expected["unit_name"].to_list()
    assert list(shown["等次（研判参考）"]) == expected["grade_label"].to_list()
    assert list(shown["同类组"]) == expected["peer_group"].to_list()
    scores = [None if pd_na(v) else round(float(v), 2) for v in shown["得分（研判参考）"]]
    assert scores == expected["score"].to_list()
    ranks = [None if pd_na(v) else int(v) for v in shown["同类组排名"]]
    assert ranks == expected["peer_rank"].to_list()
    # 样本不足 units: no grade, no score, listed after the graded units of their group.
    small = shown[shown["等次（研判参考）"] == ecology.SMALL_SAMPLE]
    assert small["得分（研判参考）"].isna().all()
    for _, group in shown.groupby("同类组", sort=False):
        flags = list(group["等次（研判参考）"] == ecology.SMALL_SAMPLE)
        assert flags == sorted(flags)


def test_the_default_round_is_the_latest_past_its_rectification_period(
    app_env: Store, app_file: str
) -> None:
    at = open_page(app_file)
    # Round 9 of the demo is still inside its rectification period (periods.finished_rounds).
    assert at.selectbox(key="eco_round").value == 8
    assert not any("暂评" in i.value for i in at.info)


def test_a_round_still_in_rectification_is_graded_provisionally(
    app_env: Store, app_file: str
) -> None:
    at = open_page(app_file, eco_round=9)
    assert any("整改期尚未结束" in i.value and "暂评" in i.value for i in at.info)
    shown = at.dataframe[0].value
    graded = shown[shown["等次（研判参考）"] != ecology.SMALL_SAMPLE]
    assert len(graded) > 0 and graded["等次（研判参考）"].str.endswith("（暂评）").all()


def test_a_unit_profile_shows_its_explanation(app_env: Store, app_file: str) -> None:
    cards = expected_cards(app_env, 8)
    unit = cards.units.filter(~pl.col("small_sample")).row(0, named=True)
    at = open_page(app_file, eco_round=8, eco_unit=unit["unit_id"])
    reader = open_reader(app_env)
    try:
        scope = resolve_scope(reader, Filters(as_of=AS_OF))
        rounds = reader.query(
            "ecology_rounds", {"inspection_ids": list(scope.inspection_ids), "as_of": AS_OF}
        )
        ids = rounds.filter(pl.col("round_id") == 8)["inspection_ids"][0].to_list()
        explanation = ecology.explain_score(
            reader, dataclasses.replace(scope, inspection_ids=tuple(ids)), unit["unit_id"]
        )
    finally:
        reader.close()
    assert any(explanation.unit_name in i.value and LABEL in i.value for i in at.info)
    explained = next(f.value for f in at.dataframe if "对总分的贡献" in f.value.columns)
    assert set(explained["指标"]) == {
        i.name
        for i in (
            *explanation.lowered,
            *explanation.lifted,
            *explanation.neutral,
            *explanation.unavailable,
        )
    }
    assert (explained["标注"] == LABEL).all()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[f"得分（{LABEL}）"] == f"{unit['score']:.2f}"
    assert metrics[f"等次（{LABEL}）"] == unit["grade_label"]
    # Clue evidence is a count only, 1–2 shown as "<3".
    for value in explained["依据"]:
        if value.startswith("线索"):
            assert re.fullmatch(r"线索 (<3|0|[3-9]|\d{2,}) 条", value), value
    # The drill-down lists the findings behind the first indicator with finding ids.
    with_findings = [
        i for i in (*explanation.lowered, *explanation.lifted) if i.id_kind == "finding" and i.ids
    ]
    if with_findings:
        assert any(f"共 {with_findings[0].id_count:,} 个问题" in c.value for c in at.caption)


def pd_na(value: object) -> bool:
    try:
        return bool(value != value) or value is None  # NaN
    except TypeError:
        return value is None

"""`xuncha ecology` and the scorecards on the demo city."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.conftest import AS_OF as DEMO_AS_OF
from tests.test_ecology import AS_OF, build_main
from xuncha import cli, figures
from xuncha.figures import ecology
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Reader, Store


@pytest.fixture(scope="module")
def store_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ecology_cli") / "store"
    build_main(root)
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def peer_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A configuration comparing within the peer group only (k = 0), the one
    test_ecology.py's numbers were worked out by hand for."""
    path = tmp_path_factory.mktemp("ecology_cli_config") / "peer_only.toml"
    path.write_text("[normalisation]\nshrinkage_k = 0.0\n", encoding="utf-8")
    return path


def ecology_args(root: Path, *extra: str) -> list[str]:
    return ["ecology", "--db", str(root), "--round", "第二轮", "--as-of", AS_OF.isoformat(), *extra]


def test_ecology_prints_each_unit_with_score_grade_caps_dimensions_and_indicators(
    capsys: Any, store_root: Path, peer_only: Path
) -> None:
    code, out, err = run(capsys, *ecology_args(store_root))
    assert code == 0 and err == ""
    assert json.loads(out)["config"]["digest"] == ecology.EcologyConfig.load(None).digest()
    code, out, err = run(capsys, *ecology_args(store_root, "--config", str(peer_only)))
    assert code == 0 and err == ""
    payload = json.loads(out)
    assert payload["label"] == "研判参考" and payload["as_of"] == AS_OF.isoformat()
    assert payload["config"]["values"]["weights"]["R"] == 35
    assert payload["config"]["values"]["shrinkage_k"] == 0.0
    units = {u["unit"]: u for u in payload["units"]}
    assert len(units) == 7
    assert (units["甲局"]["score"], units["甲局"]["grade"]) == (74.14, "好")
    # 第二轮's rectification period had not ended on the date: 暂评
    assert units["甲局"]["grade_label"] == "好（暂评）"
    assert units["乙局"]["score"] == 50.83  # worked out in test_ecology.py
    assert units["丁局"]["caps"] == ["fourth_form", "overdue"]
    assert units["戊局"]["grade"] is None and units["戊局"]["grade_label"] == "样本不足"
    assert set(units["乙局"]["dimensions"]) == {"P", "R", "D", "X", "S"}
    overdue = {i["key"]: i for i in units["乙局"]["indicators"]}["overdue_rate"]
    assert overdue["raw_value"] == 20.0 and overdue["n"] == 10 and overdue["numerator"] == 2
    assert overdue["normalised"] == 37.5 and overdue["direction"] == "-"
    assert all(u["label"] == "研判参考" for u in payload["units"])


def test_ecology_json_carries_clue_counts_never_clue_ids(capsys: Any, store_root: Path) -> None:
    _, out, _ = run(capsys, *ecology_args(store_root))
    assert "ids" not in out
    units = {u["unit"]: u for u in json.loads(out)["units"]}
    forms = {i["key"]: i for i in units["丁局"]["indicators"]}["heavier_forms"]
    assert forms["numerator"] == 2  # persons, a count


def test_ecology_writes_one_csv_row_per_unit_without_formula_like_cells(
    capsys: Any, store_root: Path, peer_only: Path
) -> None:
    args = ecology_args(store_root, "--format", "csv", "--config", str(peer_only))
    code, out, _ = run(capsys, *args)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 7
    yi = next(r for r in rows if r["unit_name"] == "乙局")
    assert yi["label"] == "研判参考" and yi["score"] == "50.83"
    assert yi["overdue_rate_raw_value"] == "20.0" and yi["overdue_rate_n"] == "10"
    assert yi["overdue_rate_direction"] == "逆向" and yi["completion_rate_direction"] == "正向"
    assert yi["dimension_P"] == "40.0"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), value


def test_ecology_uses_a_configuration_file(capsys: Any, store_root: Path, tmp_path: Path) -> None:
    config = tmp_path / "weights.toml"
    config.write_text("[weights]\nR = 70\n[normalisation]\nshrinkage_k = 0.0\n", encoding="utf-8")
    code, out, _ = run(capsys, *ecology_args(store_root, "--config", str(config)))
    payload = json.loads(out)
    assert code == 0 and payload["config"]["source"] == str(config)
    units = {u["unit"]: u for u in payload["units"]}
    assert units["乙局"]["score"] == 51.7  # worked out in test_ecology.py
    assert payload["config"]["digest"] != ecology.EcologyConfig.load(None).digest()


@pytest.mark.parametrize(
    ("extra", "config_text", "message"),
    [
        (["--round", "第九十九轮"], None, "未知轮次"),
        ([], "[weights\n", "不是有效的 TOML"),
        ([], "[weights]\nR = -3\n", "权重不能为负数"),
        ([], "[grades]\ngood = 50\n", "等次线须满足"),
        (["--as-of", "2024-02-30"], None, "日期格式不正确"),
        (["--as-of", "2020-01-01"], None, "没有已反馈的巡察"),
    ],
)
def test_ecology_user_errors_print_one_line_and_exit_one(
    capsys: Any,
    store_root: Path,
    tmp_path: Path,
    extra: list[str],
    config_text: str | None,
    message: str,
) -> None:
    argv = ["ecology", "--db", str(store_root), *extra]
    if config_text is not None:
        path = tmp_path / "bad.toml"
        path.write_text(config_text, encoding="utf-8")
        argv += ["--config", str(path)]
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


def test_ecology_refuses_a_missing_store_or_config_file(capsys: Any, tmp_path: Path) -> None:
    code, _, err = run(capsys, "ecology", "--db", str(tmp_path / "none"))
    assert code == 1 and "数据仓不存在" in err
    code, _, err = run(capsys, "ecology", "--config", str(tmp_path / "none.toml"))
    assert code == 1 and "配置文件不存在" in err


def test_ecology_usage_errors_exit_with_two() -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["ecology", "--format", "xml"])
    assert exc.value.code == 2


# -- the demo city -----------------------------------------------------------------------


def latest_finished_round(reader: Reader) -> int:
    """The latest round whose last 反馈 is a year or more before the demo's date."""
    everything = resolve_scope(reader, Filters(as_of=DEMO_AS_OF))
    rounds = reader.query(
        "ecology_rounds",
        {"inspection_ids": list(everything.inspection_ids), "as_of": DEMO_AS_OF},
    )
    finished = rounds.filter(pl.col("last_feedback") <= DEMO_AS_OF - dt.timedelta(days=365))
    return int(finished["seq"].max())  # type: ignore[arg-type]


def test_every_demo_unit_gets_a_grade_or_small_sample_and_grades_spread(
    demo_reader: Reader,
) -> None:
    seq = latest_finished_round(demo_reader)
    scope = resolve_scope(demo_reader, Filters(round_from=seq, round_to=seq, as_of=DEMO_AS_OF))
    cards = figures.scorecards(demo_reader, scope)
    assert cards.units.height == len(scope.inspection_ids)
    labels = cards.units["grade_label"].to_list()
    assert set(labels) <= {"好", "较好", "一般", "差", "样本不足"}
    assert len(set(labels) - {"样本不足"}) >= 3
    normalised = cards.indicators["normalised"].drop_nulls()
    assert normalised.min() >= 0 and normalised.max() <= 100  # type: ignore[operator]


def test_demo_scorecards_reuse_the_rectification_figures(demo_reader: Reader) -> None:
    scope = resolve_scope(demo_reader, Filters(as_of=DEMO_AS_OF))
    cards = figures.scorecards(demo_reader, scope)
    rect = figures.rectification(demo_reader, scope, "unit")
    by_id = {int(r["group_id"]): r for r in rect.iter_rows(named=True)}
    for row in cards.indicators.filter(
        pl.col("indicator").is_in(["completion_rate", "on_time_rate", "overdue_rate"])
    ).iter_rows(named=True):
        assert row["raw_value"] == by_id[row["unit_id"]][row["indicator"]]
    for unit in cards.units.filter(pl.col("score").is_not_null()).iter_rows(named=True):
        contributions = cards.indicators.filter(pl.col("unit_id") == unit["unit_id"])[
            "contribution"
        ].sum()
        assert 50 + contributions == pytest.approx(unit["score"], abs=0.005)


def test_the_demo_trend_has_one_row_per_unit_and_round(demo_reader: Reader) -> None:
    scope = resolve_scope(demo_reader, Filters(as_of=DEMO_AS_OF))
    trend = figures.score_trend(demo_reader, scope)
    assert trend.height == len(scope.inspection_ids)
    assert trend.select("unit_id", "round_id").is_duplicated().sum() == 0
    assert trend["round_id"].n_unique() == 9


def test_demo_explanations_keep_clue_ids_for_case_roles(
    demo_store: Store, demo_reader: Reader
) -> None:
    scope = resolve_scope(demo_reader, Filters(round_from=9, round_to=9, as_of=DEMO_AS_OF))
    cards = figures.scorecards(demo_reader, scope)
    with_clues = cards.indicators.filter(
        (pl.col("indicator") == "clue_density") & (pl.col("numerator") > 0)
    )
    unit_id = int(with_clues["unit_id"][0])
    plain = figures.explain_score(demo_reader, scope, unit_id, cards=cards)
    texts = " ".join(i.text for i in plain.lifted + plain.lowered + plain.neutral)
    assert "线索 #" not in texts
    detailed = figures.explain_score(demo_reader, scope, unit_id, cards=cards, clue_details=True)
    items = {i.indicator: i for i in detailed.lifted + detailed.lowered + detailed.neutral}
    assert len(items["clue_density"].ids) == with_clues["numerator"][0]

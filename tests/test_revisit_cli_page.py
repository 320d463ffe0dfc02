"""`xuncha revisit` on the hand-made store of test_revisit (order, --top, csv, the workbook,
the audit trail, refusals) and the 回头看候选 page on the demo store (its list equals
revisit_candidates for the same scope, the rule is stated, the evaluation said missing exactly when no unit has a grade)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import AS_OF as DEMO_AS_OF
from tests.test_revisit import AS_OF, FORMULA_NAME, build_fixture
from xuncha import audit, cli, figures
from xuncha import evaluation as effect
from xuncha.figures import periods
from xuncha.figures.revisit import (
    NO_GRADED_EVALUATION_NOTE,
    evaluation_note,
    revisit_candidates,
)
from xuncha.figures.revisit_export import LIST_SHEET, PLAN_SHEET
from xuncha.figures.revisit_rule import RevisitRule
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Store, open_reader
from xuncha.ui.text import md

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "pages/revisit.py"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("revisit_cli") / "store"
    build_fixture(root)
    return str(root)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def expected(root: str) -> pl.DataFrame:
    reader = open_reader(Store(root))
    try:
        scope = resolve_scope(reader, Filters(as_of=AS_OF))
        return revisit_candidates(reader, scope, RevisitRule.load(None))
    finally:
        reader.close()


def test_revisit_prints_the_ranked_list_with_its_rule(capsys: Any, db: str) -> None:
    code, out, err = run(capsys, "revisit", "--db", db, "--as-of", AS_OF.isoformat())
    assert code == 0 and err == ""
    payload = json.loads(out)
    want = expected(db)
    assert [u["unit_name"] for u in payload["units"]] == want["unit_name"].to_list()
    assert [u["points"] for u in payload["units"]] == want["points"].to_list()
    # No unit has a graded 整改成效评估 (no manual item confirmed): the reason counts for
    # nobody, and the output says so.
    assert payload["evaluation"] is False and payload["notes"] == [NO_GRADED_EVALUATION_NOTE]
    assert payload["rule"]["text"] == RevisitRule.load(None).describe()
    assert payload["as_of"] == AS_OF.isoformat()
    (entry,) = [e for e in audit.entries(db) if e.action == "cli_query"][-1:]
    assert entry.details["command"] == "revisit"
    assert entry.details["sha256"] == hashlib.sha256(out.encode()).hexdigest()
    code, out, _ = run(capsys, "revisit", "--db", db, "--as-of", AS_OF.isoformat(), "--top", "1")
    assert [u["rank"] for u in json.loads(out)["units"]] == [1]


def test_revisit_csv_and_workbook_keep_formula_like_names_inert(
    capsys: Any, db: str, tmp_path: Path
) -> None:
    rule = tmp_path / "rule.toml"
    rule.write_text("[list]\nmin_points = 0\n[since]\nafter_years = 0\n", encoding="utf-8")
    out_file = tmp_path / "名单.xlsx"
    argv = ["revisit", "--db", db, "--as-of", AS_OF.isoformat(), "--rule", str(rule)]
    code, out, err = run(capsys, *argv, "--format", "csv", "--out", str(out_file))
    assert code == 0, err
    assert "'" + FORMULA_NAME in out.replace('""', '"')
    assert out.splitlines()[0].startswith("排名,被巡察单位,同类组")
    book = openpyxl.load_workbook(out_file)
    assert book.sheetnames == [LIST_SHEET, PLAN_SHEET, "说明"]
    names = [c.value for c in book[PLAN_SHEET]["B"][1:]]
    assert (
        FORMULA_NAME in names
        and book[PLAN_SHEET]["B"][names.index(FORMULA_NAME) + 1].data_type == "s"
    )
    exported = [e for e in audit.entries(db) if e.action == "export"][-1]
    assert exported.details["sha256"] == hashlib.sha256(out_file.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--top", "0"], "--top 须为正整数"),
        (["--out", "x.csv"], "--out 须为 .xlsx 文件"),
        (["--rule", "/nonexistent/revisit.toml"], "回头看规则文件不存在"),
    ],
)
def test_revisit_refusals_print_one_line(
    capsys: Any, db: str, extra: list[str], message: str
) -> None:
    code, out, err = run(capsys, "revisit", "--db", db, *extra)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and message in err


def test_revisit_refuses_a_rule_with_the_retired_rebound_level(
    capsys: Any, db: str, tmp_path: Path
) -> None:
    rule = tmp_path / "rule.toml"
    rule.write_text("[rebound]\nmin_findings = 3\nmin_rate = 50.0\n", encoding="utf-8")
    code, out, err = run(capsys, "revisit", "--db", db, "--rule", str(rule))
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert "min_findings、min_rate 已停用" in err and "config/ecology.toml" in err


def test_revisit_takes_the_rebound_level_from_the_store_ecology_configuration(
    capsys: Any, tmp_path: Path
) -> None:
    # 甲's R2 has 2 反弹 of 4 findings (50%): under the default level (above 75%, at least 3)
    # no 反弹 counts; with the store's ecology cap at 40% and 2 it counts 30 points.
    root = tmp_path / "store"
    build_fixture(root)
    argv = ["revisit", "--db", str(root), "--as-of", AS_OF.isoformat()]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert all(u["rebound_points"] == 0 for u in json.loads(out)["units"])
    config = figures.store_config_path(root)
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "[caps]\nrebound_rate_above = 40.0\nrebound_findings_at_least = 2\n", encoding="utf-8"
    )
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    payload = json.loads(out)
    units = {u["unit_name"]: u for u in payload["units"]}
    assert units["市甲局"]["rebound_points"] == 30
    assert any("反弹率超过 40%、至少 2 个" in line for line in payload["rule"]["text"])


# -- the page --------------------------------------------------------------------------------


def open_page() -> AppTest:
    assert f'"{PAGE}"' in Path(APP).read_text(encoding="utf-8"), "app.py must register the page"
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["asof"] = DEMO_AS_OF.isoformat()
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_page_lists_the_candidates_of_the_scope(app_env: Store) -> None:
    at = open_page()
    assert at.title[0].value == "回头看候选"
    shown = "\n".join(m.value for m in at.markdown)
    for line in RevisitRule.load(None).describe():
        assert line in shown
    reader = open_reader(app_env)
    try:
        scope = resolve_scope(reader, Filters(as_of=DEMO_AS_OF))
        grades = effect.grades(reader, scope)
        want = revisit_candidates(
            reader,
            scope,
            RevisitRule.for_store(app_env.root),
            evaluation=grades,
            ecology_trend=figures.score_trend(
                reader, scope, figures.config_for_store(app_env.root)
            ),
        )
    finally:
        reader.close()
    # The note about the 整改成效评估 shows exactly when no unit in scope has a grade.
    note = evaluation_note(grades)
    assert [i.value for i in at.info if "成效评估" in i.value] == ([note] if note else [])
    (table,) = [f.value for f in at.dataframe if "列入理由" in f.value.columns]
    assert table["被巡察单位"].tolist() == want["unit_name"].to_list()
    assert table["总分"].tolist() == want["points"].to_list()
    assert table["排名"].tolist() == list(range(1, want.height + 1))
    # Each unit's reasons in full under the table (a table cell cuts them off).
    for row in want.iter_rows(named=True):
        line = f"{row['rank']}. **{md(row['unit_name'])}**（{row['points']:g} 分）：" + md(
            "；".join(row["reasons"])
        )
        assert line in shown, line
    assert table["其后尚在整改期内的巡察"].tolist() == want["in_period"].fill_null("—").to_list()
    assert periods.rule_for_store(app_env.root).describe() in shown
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["导出名单与计划草案（Excel）", "导出名单（CSV）"], labels

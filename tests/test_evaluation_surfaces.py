"""整改成效评估 through its page (AppTest on the demo store) and its command line (a copy of the
demo store): what they show equals xuncha.evaluation.evaluate, entries need a second person,
and the CSV neutralises formulas."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from tests.builders import sample_pdf
from tests.conftest import AS_OF
from xuncha import cli, evaluation
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Store, open_reader

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "pages/evaluation.py"


def expected(store: Store) -> evaluation.Evaluation:
    reader = open_reader(store)
    try:
        return evaluation.evaluate(reader, resolve_scope(reader, Filters(as_of=AS_OF)))
    finally:
        reader.close()


def test_the_page_opens_on_the_latest_round_past_its_rectification_period(
    app_env: Store,
) -> None:
    assert f'"{PAGE}"' in Path(APP).read_text(encoding="utf-8")
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["asof"] = AS_OF.isoformat()
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "整改成效评估"
    ev = expected(app_env)
    finished = ev.units.group_by("round_id", "seq").agg(pl.col("provisional").any()).sort("seq")
    assert finished["provisional"].to_list()[-1]  # the demo's last round is still 暂评
    latest = finished.filter(~pl.col("provisional"))["round_id"][-1]
    want = ev.units.filter(pl.col("round_id") == latest).sort("unit_name")
    shown = next(f.value for f in at.dataframe if "得分" in f.value.columns)
    shown = pl.from_pandas(shown).sort("单位")
    assert shown["单位"].to_list() == want["unit_name"].to_list()
    assert shown["得分"].to_list() == want["score"].to_list()
    # The demo's office account may enter and confirm: the form and the archive are there.
    assert any(b.label == "存档本轮评估结果" for b in at.button)


@pytest.fixture
def db(demo_store: Store, tmp_path: Path) -> str:
    target = tmp_path / "db"
    shutil.copytree(demo_store.root, target, symlinks=True)
    return str(target)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_command_line_enters_confirms_shows_and_archives(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "evaluation", "show", "--db", db, "--as-of", AS_OF.isoformat())
    assert code == 0
    first = json.loads(out)["units"][0]
    round_name, unit = first["round_name"], first["unit_name"]
    proof = tmp_path / "测评结果.pdf"
    proof.write_bytes(sample_pdf("cli"))
    formula = "=1+1"
    code, out, err = run(
        capsys, "evaluation", "enter", "--db", db, "--round", round_name, "--unit", unit,
        "--item", "satisfaction", "--value", "7.5", "--note", formula, "--file", str(proof),
        "--user", "办甲",
    )  # fmt: skip
    assert code == 0, err
    entry = json.loads(out)["entry_id"]
    code, _, err = run(capsys, "evaluation", "confirm", str(entry), "--db", db, "--user", "办甲")
    assert code == 1 and "本人" in err
    code, _, err = run(capsys, "evaluation", "confirm", str(entry), "--db", db, "--user", "办乙")
    assert code == 0, err
    code, out, _ = run(
        capsys, "evaluation", "show", "--db", db, "--round", round_name, "--as-of", "2099-01-01"
    )
    row = next(u for u in json.loads(out)["units"] if u["unit_name"] == unit)
    assert row["satisfaction_points"] == 7.5
    code, out, _ = run(
        capsys, "evaluation", "show", "--db", db, "--round", round_name, "--format", "csv",
        "--as-of", AS_OF.isoformat(),
    )  # fmt: skip
    assert code == 0 and out.startswith("\ufeff轮次,单位,得分")
    code, out, err = run(capsys, "evaluation", "archive", "--db", db, "--round", round_name)
    assert code == 0, err
    folder = Path(json.loads(out)["folder"])
    assert (folder / "evaluation.json").is_file() and (folder / "evaluation.xlsx").is_file()


def test_the_command_line_refuses_a_value_out_of_range_in_chinese(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = Store(db).version()
    proof = tmp_path / "a.pdf"
    proof.write_bytes(sample_pdf("x"))
    code, out, _ = run(capsys, "evaluation", "show", "--db", db, "--as-of", AS_OF.isoformat())
    first = json.loads(out)["units"][0]
    code, _, err = run(
        capsys, "evaluation", "enter", "--db", db, "--round", first["round_name"],
        "--unit", first["unit_name"], "--item", "satisfaction", "--value", "11",
        "--note", "x", "--file", str(proof),
    )  # fmt: skip
    assert code == 1 and "0 到 10 分" in err
    assert Store(db).version() == before

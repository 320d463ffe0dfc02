"""整改成效评估 through its page (AppTest on the demo store) and its command line (a copy of the
demo store): what they show equals xuncha.evaluation.evaluate, entries need a second person,
and the CSV neutralises formulas."""

from __future__ import annotations

import datetime as dt
import getpass
import io
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from tests.builders import sample_pdf
from tests.conftest import AS_OF
from xuncha import audit, cli, evaluation
from xuncha.auth import Access, UserStore
from xuncha.evaluation import archive, entries
from xuncha.filters import Filters, resolve_scope
from xuncha.rectify.evidence import check_evidence
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


PASSWORD = "Xuncha-Eval-2026"


def with_users(db: str) -> None:
    users = UserStore(db, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    for name in ("办甲", "办乙"):
        users.add_user(name, "office", actor="test", password=PASSWORD)


def typed(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def test_the_command_line_proves_each_account_by_its_password(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with_users(db)
    code, out, _ = run(capsys, "evaluation", "show", "--db", db, "--as-of", AS_OF.isoformat())
    first = json.loads(out)["units"][0]
    proof = tmp_path / "测评.pdf"
    proof.write_bytes(sample_pdf("pw"))
    enter = [
        "evaluation", "enter", "--db", db, "--round", first["round_name"],
        "--unit", first["unit_name"], "--item", "satisfaction", "--value", "6",
        "--note", "测评", "--file", str(proof),
    ]  # fmt: skip
    before = Store(db).version()
    typed(monkeypatch, PASSWORD + "\n")
    code, _, err = run(capsys, *enter)  # no --user on a store with users
    assert code == 1 and "--user" in err
    typed(monkeypatch, "wrong-Password-1\n")
    code, _, err = run(capsys, *enter, "--user", "办甲")
    assert code == 1 and "未做任何更改" in err
    typed(monkeypatch, "")
    code, _, err = run(capsys, *enter, "--user", "办甲")
    assert code == 1 and "密码" in err
    assert Store(db).version() == before
    typed(monkeypatch, PASSWORD + "\n")
    code, out, err = run(capsys, *enter, "--user", "办甲")
    assert code == 0, err
    entry = json.loads(out)["entry_id"]
    typed(monkeypatch, "wrong-Password-1\n")
    code, _, err = run(capsys, "evaluation", "confirm", str(entry), "--db", db, "--user", "办乙")
    assert code == 1 and "未做任何更改" in err
    typed(monkeypatch, PASSWORD + "\n")
    code, _, err = run(capsys, "evaluation", "confirm", str(entry), "--db", db, "--user", "办乙")
    assert code == 0, err
    records = {e.action: e for e in audit.entries(db)}
    for action, user in (("evaluation_enter", "办甲"), ("evaluation_confirm", "办乙")):
        assert records[action].user == user
        assert records[action].details["os_user"] == getpass.getuser()


def test_archives_are_listed_and_read_on_the_command_line(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ev = expected(Store(db))
    round_name = ev.units["round_name"][0]
    code, out, err = run(capsys, "evaluation", "archive", "--db", db, "--round", round_name)
    assert code == 0, err
    made = json.loads(out)
    whole = ev.units.filter(pl.col("round_name") == round_name).height
    assert f"共 {whole} 个" in made["covers"]
    code, out, err = run(capsys, "evaluation", "archives", "--db", db)
    assert code == 0, err
    listed = json.loads(out)
    assert [a["archive_id"] for a in listed] == [made["archive_id"]]
    assert listed[0]["units"] == whole
    target = tmp_path / "out" / "存档.xlsx"
    code, _, err = run(
        capsys, "evaluation", "archive-get", made["archive_id"], "--db", db, "--out", str(target)
    )
    assert code == 0, err
    _, xlsx = archive.load(Store(db), made["archive_id"], Access.system("t"))
    assert target.read_bytes() == xlsx
    exported = [e for e in audit.entries(db) if e.action == "export"][-1]
    assert exported.details["archive_id"] == made["archive_id"]
    code, _, err = run(capsys, "evaluation", "archive-get", "20990101-000000-abcdef", "--db", db,
                       "--out", str(tmp_path / "x.xlsx"))  # fmt: skip
    assert code == 1 and "没有编号为" in err and not (tmp_path / "x.xlsx").exists()


@pytest.fixture
def signed(db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    import streamlit as st

    from xuncha import ui

    with_users(db)
    users = UserStore(db, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    users.add_user("领导", "leader", actor="test", password=PASSWORD)
    monkeypatch.setenv("XUNCHA_DB", db)
    st.cache_data.clear()
    st.cache_resource.clear()
    ui.clear_caches()
    yield Store(db)
    st.cache_data.clear()
    st.cache_resource.clear()
    ui.clear_caches()


def page_as(store: Store, name: str, **params: str) -> AppTest:
    users = UserStore(store.root)
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["asof"] = AS_OF.isoformat()
    for key, value in params.items():
        at.query_params[key] = value
    at.session_state["_token"] = users.start_session(users.access_for(name))
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_filtered_page_archives_the_whole_round_and_a_leader_sees_it(signed: Store) -> None:
    ev = expected(signed)
    latest = (
        ev.units.group_by("round_id", "seq").agg(pl.col("provisional").any()).sort("seq")
    ).filter(~pl.col("provisional"))["round_id"][-1]
    round_units = ev.units.filter(pl.col("round_id") == latest)
    one_unit = str(round_units["unit_id"][0])
    at = page_as(signed, "办甲", unit=one_unit)
    next(b for b in at.button if b.label == "存档本轮评估结果").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    (saved,) = archive.list_archives(signed, Access.system("t"))
    assert saved["units"] == round_units.height > 1
    leader = page_as(signed, "领导")
    assert not any(b.label == "存档本轮评估结果" for b in leader.button)
    listed = next(f.value for f in leader.dataframe if "存档编号" in f.value.columns)
    assert listed["存档编号"].to_list() == [saved["archive_id"]]
    assert "配置摘要" not in listed.columns


def test_the_queue_shows_todays_entry_whatever_the_date_of_the_figures(signed: Store) -> None:
    ev = expected(signed)
    latest = (
        ev.units.group_by("round_id", "seq").agg(pl.col("provisional").any()).sort("seq")
    ).filter(~pl.col("provisional"))["round_id"][-1]
    target = int(ev.units.filter(pl.col("round_id") == latest)["inspection_id"][0])
    assert dt.date.today() > AS_OF  # the page is shown as of a past date
    config = evaluation.config_for_store(signed.root)
    made = entries.enter(
        signed,
        UserStore(signed.root).access_for("办甲"),
        target,
        "site_check",
        3,
        "今天的录入",
        [check_evidence("a.pdf", sample_pdf("q"))],
        config=config,
    )
    at = page_as(signed, "办乙")
    queue = next(f.value for f in at.dataframe if "录入人" in f.value.columns)
    assert made.step_ids[0] in queue["录入编号"].to_list()
    assert any("不受“统计截至”日期影响" in c.value for c in at.caption)

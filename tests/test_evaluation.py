"""整改成效评估 on a hand-built store, every expected number worked out by hand from the rows.

第一轮 (反馈 2024-03-01) inspects 甲局, 乙局, 丙局; 第二轮 (反馈 2025-03-01) inspects 甲局 again.
The evaluation is asked as of 2025-06-30, when 第一轮's rectification period has ended and
第二轮's has not (its measure is due 2025-12-31).

甲局, 第一轮 — four findings, five measures:
  f1 B03  m1 due 2024-06-30, DONE 2024-05-01                    (on time)
  f2 B05  m2 due 2024-06-30, DONE 2024-08-01                    (late)
          m3 due 2024-06-30, PHASED since 2024-07-01            (overdue; 基本完成 reported)
  f3 C03  m4 due 2024-09-30, IN_PROGRESS                        (overdue) — online: a done claim
          returned once, then claimed again and awaiting review on 2025-06-30
  f4 A02  m5 due 2024-04-30, DONE 2024-04-15                    (on time)
  outcome: 2 regulations (建章立制).
  Findings done: f1, f4 → 2/4 = 50.00% → 30 × 0.5            = 15.00
  On time: m1, m5 of 3 completed → 66.67% → 15 × 0.6667 = 10.0005 → 10.00
  Overdue measures: m3, m4 → 10 − 2 × 2                       =  6.00
  Rebound findings: none (no earlier round)                   = 10.00
  Regulations 2 of target 3 → 10 × 2/3 = 6.666…               =  6.67
  Returns: 1 → 5 − 1                                          =  4.00
  Manual (confirmed): 满意度测评 8.5, 实地查看 4, 群众评判 4.5 (a first entry of 3 was
  returned and does not count)                                = 17.00
  Total 51.67 + 17.00 = 68.67 → 差 (< 70).
  Self-reported: DONE m1, m2, m5 + m3 (PHASED) + m4 (claim pending) = 5/5 = 100.00%;
  措施完成率 3/5 = 60.00%; gap 40.00 points.

乙局, 第一轮 — two findings, each with one measure done on time; 5 regulations; manual items
  all confirmed at full points: 30 + 15 + 10 + 10 + 10 + 5 + 20 = 100.00, but 虚假整改 confirmed
  as 成立 → 差, vetoed.

丙局, 第一轮 — one finding, one measure done on time; no outcome record:
  30 + 15 + 10 + 10 + 0 + 5 = 70.00; its 满意度测评 entry awaits confirmation → not counted,
  no grade (待人工评分).

甲局, 第二轮 — one B03 finding (B03 was found at 甲局 in 第一轮 and done by 2024-05-01, before
  this 反馈: a 反弹), one measure due 2025-12-31 in progress:
  completion 0/1 → 0; on-time undefined → 0; overdue 0 → 10; rebound 1 → 10 − 5 = 5;
  no outcome record → 0; returns 0 → 5. Total 20.00, no manual entries → no grade; 暂评.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest

from tests.builders import StoreBuilder, sample_pdf
from xuncha import audit, cli, evaluation
from xuncha.auth.access import Access, PermissionDenied
from xuncha.evaluation import archive, entries, tables
from xuncha.evaluation import config as evaluation_config
from xuncha.evaluation.config import EvaluationConfig, EvaluationConfigError
from xuncha.evaluation.entries import EvaluationError
from xuncha.figures import ecology
from xuncha.filters import Filters, resolve_scope
from xuncha.rectify import workflow
from xuncha.rectify.evidence import check_evidence
from xuncha.store import Store, crypto, open_reader

# Its module-scoped set-up is costly: one xdist worker builds it once (--dist loadgroup).
pytestmark = pytest.mark.xdist_group("evaluation")

AS_OF = dt.date(2025, 6, 30)
F1 = dt.date(2024, 3, 1)
F2 = dt.date(2025, 3, 1)
OFFICE_A = Access.for_role("办甲", "office")
OFFICE_B = Access.for_role("办乙", "office")
CONFIG = EvaluationConfig.load(None)


def proof(text: str) -> Any:
    return check_evidence(f"{text}.pdf", sample_pdf(text))


def build(root: Path) -> tuple[Store, dict[str, int]]:
    b = StoreBuilder()
    r1, r2 = b.round("第一轮", seq=1), b.round("第二轮", seq=2)
    jia, yi, bing = b.unit("甲局"), b.unit("乙局"), b.unit("丙局")
    i_jia, i_yi, i_bing = (b.inspection(r1, u, feedback=F1) for u in (jia, yi, bing))
    i_jia2 = b.inspection(r2, jia, feedback=F2)
    june = dt.date(2024, 6, 30)
    f1 = b.finding(i_jia, "B03")
    b.measure(f1, deadline=june, history=[(F1, "IN_PROGRESS"), (dt.date(2024, 5, 1), "DONE")])
    f2 = b.finding(i_jia, "B05")
    b.measure(f2, deadline=june, history=[(F1, "IN_PROGRESS"), (dt.date(2024, 8, 1), "DONE")])
    b.measure(f2, deadline=june, history=[(F1, "IN_PROGRESS"), (dt.date(2024, 7, 1), "PHASED")])
    f3 = b.finding(i_jia, "C03")
    m4 = b.measure(f3, deadline=dt.date(2024, 9, 30))
    f4 = b.finding(i_jia, "A02")
    b.measure(
        f4,
        deadline=dt.date(2024, 4, 30),
        history=[(F1, "IN_PROGRESS"), (dt.date(2024, 4, 15), "DONE")],
    )
    for l2 in ("B01", "B02"):
        f = b.finding(i_yi, l2)
        b.measure(f, deadline=june, history=[(F1, "IN_PROGRESS"), (dt.date(2024, 4, 1), "DONE")])
    f = b.finding(i_bing, "B01")
    b.measure(f, deadline=june, history=[(F1, "IN_PROGRESS"), (dt.date(2024, 4, 1), "DONE")])
    f = b.finding(i_jia2, "B03")
    b.measure(f, deadline=dt.date(2025, 12, 31))
    b.outcomes.append((i_jia, 2, 0, 0))
    b.outcomes.append((i_yi, 5, 0, 0))
    store = b.build(root)
    return store, {
        "jia": i_jia,
        "yi": i_yi,
        "bing": i_bing,
        "jia2": i_jia2,
        "m4": m4,
        "r1": r1,
        "r2": r2,
    }


def on(month: int, day: int) -> dt.date:
    return dt.date(2025, month, day)


def confirmed(store: Store, inspection: int, item: str, value: float, day: dt.date) -> int:
    out = entries.enter(
        store,
        OFFICE_A,
        inspection,
        item,
        value,
        f"依据{item}",
        [proof(item)],
        config=CONFIG,
        on=day,
    )
    entries.decide(store, OFFICE_B, out.step_ids[0], "confirm", on=day)
    return out.step_ids[0]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, dict[str, int]]:
    store, ids = build(tmp_path_factory.mktemp("evaluation") / "store")
    # The online return and the claim awaiting review (甲局, m4).
    unit_liaison = Access.for_role("联络员", "liaison", units=["甲局"])
    group = Access.for_role("组员", "group", units=["甲局"])
    done = workflow.Report(ids["m4"], "DONE", "已整改", on(4, 30), (proof("claim1"),))
    first = workflow.report(store, unit_liaison, [done], on=on(5, 1))
    workflow.decide(store, group, first.submission_ids[0], "return", reason="材料不全", on=on(5, 5))
    again = workflow.Report(ids["m4"], "DONE", "已补充", on(5, 9), (proof("claim2"),))
    workflow.report(store, unit_liaison, [again], on=on(5, 10))
    # Manual items.
    confirmed(store, ids["jia"], "satisfaction", 8.5, on(6, 1))
    confirmed(store, ids["jia"], "site_check", 4, on(6, 1))
    first_try = entries.enter(
        store,
        OFFICE_A,
        ids["jia"],
        "public_review",
        3,
        "初评",
        [proof("p1")],
        config=CONFIG,
        on=on(6, 2),
    )
    entries.decide(store, OFFICE_B, first_try.step_ids[0], "reject", reason="分值有误", on=on(6, 3))
    confirmed(store, ids["jia"], "public_review", 4.5, on(6, 4))
    for item, value in (("satisfaction", 10), ("site_check", 5), ("public_review", 5)):
        confirmed(store, ids["yi"], item, value, on(6, 1))
    confirmed(store, ids["yi"], "false_rectification", 1, on(6, 5))
    entries.enter(
        store,
        OFFICE_A,
        ids["bing"],
        "satisfaction",
        9,
        "测评",
        [proof("b")],
        config=CONFIG,
        on=on(6, 6),
    )
    return store, ids


@pytest.fixture
def copy(built: tuple[Store, dict[str, int]], tmp_path: Path) -> tuple[Store, dict[str, int]]:
    """A copy of the built store for a test that writes."""
    target = tmp_path / "db"
    shutil.copytree(built[0].root, target, symlinks=True)
    return Store(target), built[1]


def evaluated(
    store: Store, access: Access | None = None, as_of: dt.date = AS_OF
) -> evaluation.Evaluation:
    reader = open_reader(store)
    try:
        scope = resolve_scope(reader, Filters(as_of=as_of), access=access)
        return evaluation.evaluate(reader, scope, CONFIG)
    finally:
        reader.close()


def archived(
    store: Store, round_id: int, who: Access = OFFICE_A, as_of: dt.date = AS_OF
) -> tuple[str, dict[str, Any]]:
    reader = open_reader(store)
    try:
        return archive.save(store, reader, round_id, who, as_of=as_of, config=CONFIG)
    finally:
        reader.close()


def row(ev: evaluation.Evaluation, inspection: int) -> dict[str, Any]:
    return ev.units.filter(pl.col("inspection_id") == inspection).row(0, named=True)


def points(ev: evaluation.Evaluation, inspection: int) -> dict[str, float | None]:
    items = ev.items.filter(pl.col("inspection_id") == inspection)
    return dict(zip(items["item"].to_list(), items["points"].to_list(), strict=True))


# -- the hand computation ------------------------------------------------------------------


def test_the_evaluation_of_a_fixture_round_equals_the_hand_computation(
    built: tuple[Store, dict[str, int]],
) -> None:
    store, ids = built
    ev = evaluated(store)
    assert points(ev, ids["jia"]) == {
        "completion_rate": 15.00,
        "on_time_rate": 10.00,
        "overdue": 6.00,
        "rebound": 10.00,
        "regulations": 6.67,
        "returns": 4.00,
        "satisfaction": 8.5,
        "site_check": 4.0,
        "public_review": 4.5,
        "false_rectification": None,
        "perfunctory": None,
    }
    jia = row(ev, ids["jia"])
    assert jia["score"] == 68.67
    assert jia["auto_points"] == 51.67 and jia["manual_points"] == 17.0
    assert jia["deductions"] == 5.0  # overdue 4 + returns 1
    assert jia["grade"] == "差" and not jia["vetoed"] and jia["complete"]
    assert not jia["provisional"]
    assert (jia["self_reported_rate"], jia["measure_completion_rate"]) == (100.0, 60.0)
    assert jia["completion_gap"] == 40.0
    assert jia["completion_rate"] == 50.0

    yi = row(ev, ids["yi"])
    assert (yi["score"], yi["grade"], yi["vetoed"], yi["veto_items"]) == (
        100.0,
        "差",
        True,
        "虚假整改",
    )

    bing = row(ev, ids["bing"])
    assert (bing["score"], bing["grade"], bing["complete"]) == (70.0, None, False)
    assert bing["pending_entries"] == 1
    assert "待人工评分" in bing["note"]
    satisfaction = ev.items.filter(
        (pl.col("inspection_id") == ids["bing"]) & (pl.col("item") == "satisfaction")
    ).row(0, named=True)
    assert satisfaction["points"] == 0.0 and satisfaction["status"].startswith("待确认")

    jia2 = row(ev, ids["jia2"])
    assert points(ev, ids["jia2"])["rebound"] == 5.0
    assert (jia2["score"], jia2["grade"], jia2["provisional"]) == (20.0, None, True)
    assert "暂评" in jia2["note"]


def test_the_automatic_items_state_their_basis(built: tuple[Store, dict[str, int]]) -> None:
    store, ids = built
    items = evaluated(store).items.filter(pl.col("inspection_id") == ids["jia"])
    by = {r["item"]: r for r in items.iter_rows(named=True)}
    assert (by["completion_rate"]["numerator"], by["completion_rate"]["denominator"]) == (2, 4)
    assert "2/4 = 50.00%" in by["completion_rate"]["basis"]
    assert (by["on_time_rate"]["numerator"], by["on_time_rate"]["denominator"]) == (2, 3)
    assert by["returns"]["value"] == 1 and by["overdue"]["value"] == 2


def test_grades_is_the_public_api_with_its_columns_and_types(
    built: tuple[Store, dict[str, int]],
) -> None:
    store, _ids = built
    reader = open_reader(store)
    try:
        frame = evaluation.grades(reader, resolve_scope(reader, Filters(as_of=AS_OF)))
    finally:
        reader.close()
    schema = frame.schema
    assert schema["unit_id"] == pl.Int64 and schema["round_id"] == pl.Int64
    assert schema["score"] == pl.Float64 and schema["grade"] == pl.String
    assert schema["vetoed"] == pl.Boolean and schema["provisional"] == pl.Boolean
    got = {(r["unit_name"], r["round_name"]): r["grade"] for r in frame.iter_rows(named=True)}
    assert got == {
        ("甲局", "第一轮"): "差",
        ("乙局", "第一轮"): "差",
        ("丙局", "第一轮"): None,
        ("甲局", "第二轮"): None,
    }


def test_a_gentler_configuration_changes_the_grade_and_the_digest(
    built: tuple[Store, dict[str, int]],
) -> None:
    store, ids = built
    text = "[grades]\ngood = 90.0\nfairly_good = 80.0\naverage = 60.0\n"
    gentle = EvaluationConfig.from_toml(text)
    assert gentle.digest() != CONFIG.digest()
    reader = open_reader(store)
    try:
        scope = resolve_scope(reader, Filters(as_of=AS_OF))
        ev = evaluation.evaluate(reader, scope, gentle)
    finally:
        reader.close()
    assert row(ev, ids["jia"])["grade"] == "一般"  # 68.67 ≥ 60


def test_an_earlier_date_sees_only_what_was_entered_and_confirmed_by_then(
    built: tuple[Store, dict[str, int]],
) -> None:
    store, ids = built
    ev = evaluated(store, as_of=on(6, 1))  # 群众评判 not yet entered; 乙局's veto not yet
    jia = row(ev, ids["jia"])
    assert jia["manual_points"] == 12.5 and jia["grade"] is None
    assert row(ev, ids["yi"])["vetoed"] is False
    assert row(ev, ids["yi"])["grade"] == "好"  # 100 points, all manual items confirmed


# -- scope -----------------------------------------------------------------------------------


def test_a_scoped_reader_sees_only_its_units(built: tuple[Store, dict[str, int]]) -> None:
    store, _ids = built
    supervisor = Access.for_role("室员", "supervisor", units=["乙局"])
    ev = evaluated(store, supervisor)
    assert ev.units["unit_name"].to_list() == ["乙局"]
    assert set(ev.items["unit_name"].to_list()) == {"乙局"}
    assert set(ev.entries["unit_name"].to_list()) == {"乙局"}
    liaison = Access.for_role("联络员", "liaison", units=["甲局"])
    assert evaluated(store, liaison).units.is_empty()


# -- entering and confirming -----------------------------------------------------------------


def test_nobody_confirms_their_own_entry(copy: tuple[Store, dict[str, int]]) -> None:
    store, ids = copy
    before = store.version()
    out = entries.enter(
        store,
        OFFICE_A,
        ids["bing"],
        "site_check",
        5,
        "查看",
        [proof("s")],
        config=CONFIG,
        on=on(6, 7),
    )
    assert store.version() == before + 1
    with pytest.raises(PermissionDenied, match="本人录入"):
        entries.decide(store, OFFICE_A, out.step_ids[0], "confirm", on=on(6, 7))
    assert store.version() == before + 1
    entries.decide(store, OFFICE_B, out.step_ids[0], "confirm", on=on(6, 7))
    with pytest.raises(EvaluationError, match="已确认"):
        entries.decide(
            store, Access.for_role("室丙", "supervisor"), out.step_ids[0], "reject", reason="x"
        )
    actions = [e.action for e in audit.entries(store.root)][-2:]
    assert actions == ["evaluation_enter", "evaluation_confirm"]


@pytest.mark.parametrize(
    ("access", "item", "value", "note", "files", "error"),
    [
        (Access.for_role("领导", "leader"), "satisfaction", 5, "x", True, PermissionDenied),
        (
            Access.for_role("组员", "group", units=["丙局"]),
            "satisfaction",
            5,
            "x",
            True,
            PermissionDenied,
        ),
        (OFFICE_A, "satisfaction", 10.5, "x", True, EvaluationError),
        (OFFICE_A, "satisfaction", -1, "x", True, EvaluationError),
        (OFFICE_A, "false_rectification", 0.5, "x", True, EvaluationError),
        (OFFICE_A, "completion_rate", 5, "x", True, EvaluationError),
        (OFFICE_A, "satisfaction", 5, "  ", True, EvaluationError),
        (OFFICE_A, "satisfaction", 5, "x", False, EvaluationError),
        (OFFICE_A, "satisfaction", float("nan"), "x", True, EvaluationError),
    ],
)
def test_bad_entries_are_refused_and_write_nothing(
    copy: tuple[Store, dict[str, int]],
    access: Access,
    item: str,
    value: float,
    note: str,
    files: bool,
    error: type[Exception],
) -> None:
    store, ids = copy
    before = store.version()
    with pytest.raises(error) as caught:
        entries.enter(
            store,
            access,
            ids["jia2"],
            item,
            value,
            note,
            [proof("bad")] if files else [],
            config=CONFIG,
            on=on(6, 7),
        )
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(caught.value))
    assert store.version() == before


def test_an_entry_out_of_scope_is_refused_as_if_missing(copy: tuple[Store, dict[str, int]]) -> None:
    store, ids = copy
    scoped = Access.for_role("室员", "supervisor", units=["乙局"])
    with pytest.raises(EvaluationError) as out_of_scope:
        entries.enter(
            store,
            scoped,
            ids["jia"],
            "satisfaction",
            5,
            "x",
            [proof("o")],
            config=CONFIG,
            on=on(6, 7),
        )
    with pytest.raises(EvaluationError) as missing:
        entries.enter(
            store, scoped, 999, "satisfaction", 5, "x", [proof("o")], config=CONFIG, on=on(6, 7)
        )
    assert str(out_of_scope.value).replace(str(ids["jia"]), "#") == str(missing.value).replace(
        "999", "#"
    )
    pending = evaluated(store).entries.filter(pl.col("decision").is_null())["entry_id"][0]
    with pytest.raises(EvaluationError, match="不存在或不在"):
        entries.decide(store, scoped, int(pending), "confirm", on=on(6, 7))


def test_a_second_entry_waits_for_the_first_to_be_decided(
    copy: tuple[Store, dict[str, int]],
) -> None:
    store, ids = copy
    with pytest.raises(EvaluationError, match="待确认"):
        entries.enter(
            store,
            OFFICE_B,
            ids["bing"],
            "satisfaction",
            7,
            "x",
            [proof("y")],
            config=CONFIG,
            on=on(6, 7),
        )


def test_a_confirmed_veto_makes_the_grade_bad_whatever_the_points(
    copy: tuple[Store, dict[str, int]],
) -> None:
    store, ids = copy
    confirmed(store, ids["bing"], "perfunctory", 1, on(6, 7))
    bing = row(evaluated(store), ids["bing"])
    assert (bing["grade"], bing["vetoed"], bing["veto_items"]) == ("差", True, "敷衍整改")
    assert bing["score"] == 70.0  # the veto changes the grade, not the points


# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("total = 90.0", "满分之和"),
        ("[grades]\ngood = 80.0\nfairly_good = 85.0\naverage = 70.0", "等次线"),
        ("[grades]\ngood = 90.0", "缺少等次线"),
        ('[auto.x]\nlabel = "x"\nsource = "returns"\nmethod = "rate"\npoints = 80.0', "source"),
        ('[auto.x]\nlabel = "x"\nsource = "returns"\nmethod = "deduct"\npoints = 80.0', "per"),
        (
            '[auto.x]\nlabel = "x"\nsource = "nothing"\nmethod = "deduct"\npoints = 80.0\nper = 1',
            "source",
        ),
        (
            '[auto.x]\nlabel = "x"\nsource = "returns"\nmethod = "deduct"\npoints = -80.0\nper = 1',
            "points",
        ),
        (
            '[manual.satisfaction]\nlabel = "a"\npoints = 20.0\n[veto.satisfaction]\nlabel = "b"',
            "重复",
        ),
        ("colour = 1", "未知的项"),
        ("format = 2", "格式版本"),
        ("total = ", "TOML"),
        ('[manual.Bad]\nlabel = "x"\npoints = 20.0', "不合规"),
    ],
)
def test_bad_configurations_are_refused_in_chinese(text: str, words: str) -> None:
    with pytest.raises(EvaluationConfigError, match=words):
        EvaluationConfig.from_toml(text)


def test_the_default_configuration_adds_up_to_100_and_a_store_file_replaces_sections(
    tmp_path: Path,
) -> None:
    assert CONFIG.total == 100.0
    assert sum(i.points for i in (*CONFIG.auto, *CONFIG.manual)) == 100.0
    text = (
        'total = 100.0\n[auto.completion_rate]\nlabel = "完成率"\nsource = "completion_rate"\n'
        'method = "rate"\npoints = 100.0\n[manual]\n[veto]\n'
    )
    saved = evaluation.save_config_text(tmp_path, text)
    assert [i.key for i in saved.auto] == ["completion_rate"] and not saved.manual
    assert evaluation.config_for_store(tmp_path).digest() == saved.digest()
    with pytest.raises(EvaluationConfigError):
        evaluation.save_config_text(tmp_path, "total = 50.0\n")
    assert evaluation.config_for_store(tmp_path).digest() == saved.digest()  # unchanged


# -- archive and exports -----------------------------------------------------------------------


def test_the_archive_keeps_the_round_with_its_data_version_and_digest(
    copy: tuple[Store, dict[str, int]],
) -> None:
    store, ids = copy
    archive_id, record = archived(store, ids["r1"])
    assert (
        record["data_version"] == store.version() and record["config"]["digest"] == CONFIG.digest()
    )
    assert store.version() in store.pinned()
    listed = archive.list_archives(store, OFFICE_B)
    assert [a["archive_id"] for a in listed] == [archive_id] and listed[0]["units"] == 3
    scoped = Access.for_role("室员", "supervisor", units=["乙局"])
    assert archive.list_archives(store, scoped) == []
    loaded, xlsx = archive.load(store, archive_id, OFFICE_B)
    assert {u["unit_name"] for u in loaded["units"]} == {"甲局", "乙局", "丙局"}
    book = openpyxl.load_workbook(io.BytesIO(xlsx))
    assert book.sheetnames == ["结果", "评分明细", "人工评分录入", "说明"]
    assert [e.action for e in audit.entries(store.root)][-1] == "evaluation_archive"
    json.dumps(loaded)  # plain JSON


def test_a_formula_in_a_note_stays_text_in_the_workbook(copy: tuple[Store, dict[str, int]]) -> None:
    store, ids = copy
    formula = '=HYPERLINK("http://x","y")'
    out = entries.enter(
        store,
        OFFICE_A,
        ids["jia2"],
        "site_check",
        3,
        formula,
        [proof("f")],
        config=CONFIG,
        on=on(6, 7),
    )
    assert out.step_ids
    xlsx = archive.workbook(evaluated(store), "第二轮", OFFICE_A)
    book = openpyxl.load_workbook(io.BytesIO(xlsx))
    cells = [c for r in book["人工评分录入"].iter_rows() for c in r if c.value == formula]
    assert cells and all(c.data_type == "s" for c in cells)


def test_key_seal_and_rotate_bring_the_archive_under_the_new_key(
    copy: tuple[Store, dict[str, int]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    store, ids = copy
    archive_id, _ = archived(store, ids["r1"])
    files = [store.root / archive.FOLDER / archive_id / name for name in archive.FILES]
    plain = [f.read_bytes() for f in files]
    assert not any(crypto.is_sealed(f) for f in files)
    old_file, new_file = tmp_path / "old.key", tmp_path / "new.key"
    assert cli.main(["key", "new", str(old_file)]) == 0
    assert cli.main(["key", "new", str(new_file)]) == 0
    monkeypatch.setenv(crypto.ENV_KEY_FILE, str(old_file))
    assert cli.main(["key", "seal", "--db", str(store.root)]) == 0
    assert "整改成效评估存档文件 2 个" in capsys.readouterr().out
    assert all(crypto.is_sealed(f) for f in files)
    assert all(p not in f.read_bytes() for p, f in zip(plain, files, strict=True))
    old = crypto.read_key_file(old_file)
    assert [crypto.unseal_bytes(f, old) for f in files] == plain
    argv = ["key", "rotate", "--db", str(store.root), "--new-key-file", str(new_file)]
    assert cli.main(argv) == 0, capsys.readouterr().err
    monkeypatch.setenv(crypto.ENV_KEY_FILE, str(new_file))
    new = crypto.read_key_file(new_file)
    assert [crypto.unseal_bytes(f, new) for f in files] == plain
    record, _ = archive.load(store, archive_id, OFFICE_B)
    assert record["archive_id"] == archive_id
    # Under a third key with neither given, the file is named and nothing is guessed.
    with pytest.raises(archive.ArchiveError, match=archive_id):
        archive.seal_all(store, crypto.new_key())


def test_a_backup_carries_the_archive(copy: tuple[Store, dict[str, int]], tmp_path: Path) -> None:
    store, ids = copy
    archive_id, _ = archived(store, ids["r1"])
    out = tmp_path / "backup.tar.gz"
    assert cli.main(["backup", "--db", str(store.root), "--out", str(out)]) == 0
    target = tmp_path / "restored"
    assert cli.main(["restore", str(out), "--db", str(target), "--user", "巡察办"]) == 0
    restored = Store(target)
    record, xlsx = archive.load(restored, archive_id, OFFICE_B)
    original, original_xlsx = archive.load(store, archive_id, OFFICE_B)
    assert record == original and xlsx == original_xlsx


# -- review fixes: 样本不足, one grade vocabulary, developer text, archive coverage and audit --


def test_units_with_few_findings_are_marked_small_sample_and_keep_their_grade(
    copy: tuple[Store, dict[str, int]],
) -> None:
    store, ids = copy
    ev = evaluated(store)
    # Every unit of the fixture has fewer than the default 5 findings (甲局 4, 乙局 2, 丙局 1).
    assert ev.min_findings == 5
    jia = row(ev, ids["jia"])
    assert jia["findings"] == 4 and jia["small_sample"] is True
    assert jia["grade"] == "差"  # still graded (68.67), marked
    assert "问题少于 5 个，样本不足，等次仅供参考" in jia["note"]
    table = tables.results_table(ev)
    assert table["样本不足（等次仅供参考）"].to_list() == ev.units["small_sample"].to_list()
    # The 样本线 is the ecology configuration's: at 3, 甲局 (4 findings) is no longer small.
    path = ecology.store_config_path(store.root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[sample]\nmin_findings = 3\n", encoding="utf-8")
    assert ecology.config_for_store(store.root).min_findings == 3
    reader = open_reader(store)
    try:
        again = evaluation.evaluate(reader, resolve_scope(reader, Filters(as_of=AS_OF)), CONFIG)
    finally:
        reader.close()
    assert row(again, ids["jia"])["small_sample"] is False
    assert "样本不足" not in (row(again, ids["jia"])["note"] or "")
    assert row(again, ids["yi"])["small_sample"] is True
    assert "问题少于 3 个" in row(again, ids["yi"])["note"]
    graded = evaluation.grades(open_reader(store), resolve_scope(open_reader(store), Filters()))
    assert "small_sample" in graded.columns


def test_the_grade_words_are_the_ecology_vocabulary() -> None:
    assert evaluation_config.GRADES is ecology.GRADES
    assert ecology.GRADES[-1] == evaluation_config.VETO_GRADE
    assert CONFIG.describe_grades().split("，")[0].startswith(ecology.GRADES[0])


def _texts(book: Any, sheet: str) -> list[str]:
    return [str(c.value) for r in book[sheet].iter_rows() for c in r if c.value is not None]


def test_what_a_leader_reads_has_no_developer_text(copy: tuple[Store, dict[str, int]]) -> None:
    store, ids = copy
    _, record = archived(store, ids["r1"])
    _, xlsx = archive.load(store, record["archive_id"], OFFICE_B)
    book = openpyxl.load_workbook(io.BytesIO(xlsx))
    read = [t for s in ("结果", "评分明细", "说明") for t in _texts(book, s)]
    for word in ("§", "DOMAIN", "SHA", "sha256", "digest", "min(", ".toml", "#"):
        assert not [t for t in read if word in t], word
    assert not [t for t in read if re.search(r"[0-9a-f]{16,}", t)]
    notes = _texts(book, "说明")
    assert "评估配置：内置默认配置" in notes
    assert any("样本不足" in t for t in notes)
    assert "满分 10 分 × 建章立制数 ÷ 3，满 3 项计满分" in _texts(book, "评分明细")
    assert "§" not in evaluation.METHOD and "DOMAIN" not in evaluation.METHOD
    # The digest stays in the machine record.
    assert record["config"]["digest"] == CONFIG.digest()


def test_the_archive_covers_the_whole_round_in_the_accounts_scope(
    copy: tuple[Store, dict[str, int]],
) -> None:
    store, ids = copy
    scoped = Access.for_role("室员", "supervisor", units=["甲局", "乙局"])
    _, record = archived(store, ids["r1"], scoped)
    assert {u["unit_name"] for u in record["units"]} == {"甲局", "乙局"}
    assert record["covers"]["units"] == 2 and scoped.describe() in record["covers"]["text"]
    _, whole = archived(store, ids["r1"])
    assert whole["covers"]["units"] == 3
    book = openpyxl.load_workbook(io.BytesIO(archive.load(store, whole["archive_id"], OFFICE_B)[1]))
    assert any(t.startswith("存档范围：") and "共 3 个" in t for t in _texts(book, "说明"))


def test_an_archive_is_not_made_when_the_audit_trail_cannot_take_its_record(
    copy: tuple[Store, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, ids = copy
    folder = store.root / archive.FOLDER
    pinned = store.pinned()
    path = audit.audit_path(store.root)
    original = path.read_bytes()
    lines = original.decode("utf-8").splitlines()
    first = json.loads(lines[0])
    first["user"] = "别人"
    path.write_text(
        "\n".join([json.dumps(first, ensure_ascii=False), *lines[1:]]) + "\n", encoding="utf-8"
    )
    with pytest.raises(audit.AuditError, match="评估存档未执行"):
        archived(store, ids["r1"])
    assert not folder.exists() or not any(folder.iterdir())
    assert store.pinned() == pinned
    path.write_bytes(original)

    def failing(*args: Any, **kwargs: Any) -> None:
        raise audit.AuditError("磁盘已满")

    monkeypatch.setattr(archive.audit, "record", failing)
    with pytest.raises(archive.ArchiveError, match="评估未存档"):
        archived(store, ids["r1"])
    assert not folder.exists() or not any(folder.iterdir())
    assert store.pinned() == pinned

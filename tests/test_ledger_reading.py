"""Reading ledgers: real layouts give exactly what they hold; what is not understood is
reported with its row, column, value and reason, never guessed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests import ledger_samples as S
from xuncha.ledger import read_ledger, write_template
from xuncha.ledger.classify import CategoryError, Classifier
from xuncha.ledger.deadlines import DeadlineError, parse_deadline, resolve_deadline
from xuncha.ledger.model import LedgerResult, ParsedFinding
from xuncha.ledger.statuses import read_status
from xuncha.ledger.text import split_numbered


def _finding(f: ParsedFinding) -> tuple[Any, ...]:
    return (f.title, f.category_l1, f.category_l2, f.source_category_text, f.immediate, f.detail)


def _measures(f: ParsedFinding) -> list[tuple[Any, ...]]:
    return [
        (
            m.text,
            m.deadline_kind,
            m.deadline_date,
            m.long_term,
            m.extension_date,
            m.status,
            m.status_text,
            m.deadline_text,
            m.lead_person,
            m.department,
            m.person,
            m.progress,
            m.evidence,
        )
        for m in f.measures
    ]


def _expected_finding(f: S.F) -> tuple[Any, ...]:
    return (f.title, f.l1, f.l2, f.source, f.immediate, f.detail)


def _expected_measures(f: S.F) -> list[tuple[Any, ...]]:
    return [
        (
            m.text,
            m.kind,
            m.due,
            m.long_term,
            m.extension,
            m.status,
            m.status_text,
            m.deadline_text,
            m.lead,
            m.department,
            m.person,
            m.progress,
            m.evidence,
        )
        for m in f.measures
    ]


def assert_holds(result: LedgerResult, sample: S.Sample) -> None:
    assert result.ok, [p.describe() for p in result.errors]
    assert [_finding(f) for f in result.findings] == [_expected_finding(f) for f in sample.findings]
    for got, want in zip(result.findings, sample.findings, strict=True):
        assert _measures(got) == _expected_measures(want), want.title
    assert len(result.warnings) == sample.warnings, [p.describe() for p in result.warnings]
    assert result.unknown_columns == list(sample.unknown_columns)
    assert result.as_of == sample.as_of


@pytest.mark.parametrize("kind", ["merged", "one_row", "gbk_csv"])
def test_each_real_world_layout_yields_exactly_the_findings_and_measures_built_into_it(
    tmp_path: Path, kind: str
) -> None:
    sample, path = S.build(kind, tmp_path)
    assert_holds(read_ledger(path, feedback_date=sample.feedback), sample)


def test_the_progress_ledger_yields_exactly_its_findings(tmp_path: Path) -> None:
    path = S.merged_xlsx(tmp_path / S.PROGRESS.name, progress=True)
    assert_holds(read_ledger(path, feedback_date=S.PROGRESS.feedback), S.PROGRESS)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_a_csv_reads_the_same_in_utf8_with_or_without_bom_and_in_gb18030(
    tmp_path: Path, encoding: str
) -> None:
    path = S.gbk_csv(tmp_path / "台账.csv", encoding=encoding)
    result = read_ledger(path, feedback_date=S.GBK.feedback)
    assert_holds(result, S.GBK)
    assert (
        result.encoding
        == {
            "utf-8": "UTF-8",
            "utf-8-sig": "UTF-8（带 BOM）",
            "gb18030": "GB18030/GBK",
        }[encoding]
    )


def test_the_title_and_fill_in_line_give_the_unit_group_and_as_of_date(tmp_path: Path) -> None:
    sample, path = S.build("merged", tmp_path)
    result = read_ledger(path, feedback_date=sample.feedback)
    assert result.title == "中共江城市住房和城乡建设局党组关于市委第三巡察组反馈意见整改落实台账"
    assert result.guessed_unit == "市住建局"
    assert result.guessed_group == "市委第三巡察组"
    assert result.as_of == dt.date(2024, 6, 30)
    assert result.rows_read == 9  # the measure rows; title, header, group and footer rows aside
    _, csv_path = S.build("gbk_csv", tmp_path)
    csv_result = read_ledger(csv_path, feedback_date=S.GBK.feedback)
    assert csv_result.guessed_round == "十三届市委第七轮巡察"
    assert csv_result.sha256 is not None and len(csv_result.sha256) == 64


def test_reading_touches_no_store_and_needs_no_round_or_unit(tmp_path: Path) -> None:
    sample, path = S.build("one_row", tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert read_ledger(path, feedback_date=sample.feedback).ok
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_unknown_columns_are_listed_with_a_warning_not_dropped_silently(tmp_path: Path) -> None:
    sample, path = S.build("merged", tmp_path)
    result = read_ledger(path, feedback_date=sample.feedback)
    assert result.unknown_columns == ["督办意见"]
    (warning,) = result.warnings
    assert (warning.row, warning.column, warning.reason) == (
        4,
        "督办意见（J列）",
        "未识别的列，其内容不会导入",
    )


# -- deadlines ---------------------------------------------------------------------------

FEEDBACK = dt.date(2024, 3, 15)
ENTRY_END = dt.date(2024, 2, 1)


@pytest.mark.parametrize(
    ("written", "kind", "due", "long_term"),
    [
        ("立行立改", "IMMEDIATE", ENTRY_END, False),
        ("即知即改", "IMMEDIATE", ENTRY_END, False),
        ("2024年6月底前", "DATE", dt.date(2024, 6, 30), False),
        ("2024年2月底前", "DATE", dt.date(2024, 2, 29), False),
        ("2024年底前", "DATE", dt.date(2024, 12, 31), False),
        ("2024年上半年", "DATE", dt.date(2024, 6, 30), False),
        ("2024年下半年", "DATE", dt.date(2024, 12, 31), False),
        ("2024年一季度", "DATE", dt.date(2024, 3, 31), False),
        ("2024年第三季度末", "DATE", dt.date(2024, 9, 30), False),
        ("2024年6月30日", "DATE", dt.date(2024, 6, 30), False),
        ("2024.6.30", "DATE", dt.date(2024, 6, 30), False),
        ("2024/6/30", "DATE", dt.date(2024, 6, 30), False),
        ("2024-06-30", "DATE", dt.date(2024, 6, 30), False),
        ("２０２４年６月底前", "DATE", dt.date(2024, 6, 30), False),
        (45473, "DATE", dt.date(2024, 6, 30), False),
        (45473.0, "DATE", dt.date(2024, 6, 30), False),
        (dt.datetime(2024, 6, 30), "DATE", dt.date(2024, 6, 30), False),
        ("2个月内", "RELATIVE", dt.date(2024, 5, 15), False),
        ("反馈后三个月内", "RELATIVE", dt.date(2024, 6, 15), False),
        ("自反馈之日起6个月内完成", "RELATIVE", dt.date(2024, 9, 15), False),
        ("长期坚持", "LONG_TERM", None, True),
        ("常态化", "LONG_TERM", None, True),
        ("长期坚持，常态推进", "LONG_TERM", None, True),
        ("2024年6月底前完成，长期坚持", "DATE", dt.date(2024, 6, 30), True),
        ("立行立改，长期坚持", "IMMEDIATE", ENTRY_END, True),
    ],
)
def test_every_deadline_form_of_the_domain_parses_to_its_due_date(
    written: Any, kind: str, due: dt.date | None, long_term: bool
) -> None:
    resolved = resolve_deadline(parse_deadline(written), feedback=FEEDBACK, entry_end=ENTRY_END)
    assert (resolved.kind, resolved.due, resolved.long_term) == (kind, due, long_term)
    assert resolved.notes == ()


def test_immediate_deadlines_fall_due_on_the_feedback_date_when_the_end_of_entry_is_unknown() -> (
    None
):
    resolved = resolve_deadline(parse_deadline("立行立改"), feedback=FEEDBACK, entry_end=None)
    assert resolved.due == FEEDBACK


def test_an_approved_extension_written_in_the_deadline_is_kept_next_to_the_original() -> None:
    resolved = resolve_deadline(
        parse_deadline("2024年6月底前（已延期至2024年12月31日）"), feedback=FEEDBACK, entry_end=None
    )
    assert (resolved.due, resolved.extension) == (dt.date(2024, 6, 30), dt.date(2024, 12, 31))


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("2024年13月底前", "月份“13”无效"),
        ("2024年2月30日", "日期不存在"),
        ("2024.2.30", "日期不存在"),
        ("2024年6月前", "含义不明确"),
        ("2024年6月底前、2024年底前", "多个时限"),
        ("尽快", "无法识别的整改时限"),
        ("申请延期", "没有写明批准的新时限"),
        ("1024年6月底前", "年份“1024”不合理"),
        (12.5, "不是合理的 Excel 日期"),
        ("", "整改时限为空"),
    ],
)
def test_a_deadline_that_cannot_be_read_is_an_error_with_its_reason(
    written: Any, reason: str
) -> None:
    with pytest.raises(DeadlineError, match=reason):
        parse_deadline(written)


@pytest.mark.parametrize(
    ("written", "feedback", "due"),
    [
        ("一季度", dt.date(2024, 3, 15), dt.date(2024, 3, 31)),
        ("一季度", dt.date(2024, 5, 10), dt.date(2025, 3, 31)),
        ("6月底前", dt.date(2024, 3, 15), dt.date(2024, 6, 30)),
        ("年底前", dt.date(2024, 3, 15), dt.date(2024, 12, 31)),
    ],
)
def test_a_year_left_out_is_the_first_such_period_after_the_feedback_date_and_is_said_so(
    written: str, feedback: dt.date, due: dt.date
) -> None:
    resolved = resolve_deadline(parse_deadline(written), feedback=feedback, entry_end=None)
    assert resolved.due == due
    assert len(resolved.notes) == 1 and "没有写年份" in resolved.notes[0]


@pytest.mark.parametrize("written", ["一季度", "2个月内", "反馈后三个月内", "立行立改"])
def test_forms_that_need_the_feedback_date_are_errors_without_it(written: str) -> None:
    with pytest.raises(DeadlineError, match="未知"):
        resolve_deadline(parse_deadline(written), feedback=None, entry_end=None)


# -- statuses and categories ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "status"),
    [
        *[
            (w, "DONE")
            for w in ("已完成", "完成整改", "已整改", "已整改到位", "已销号", "已整改销号")
        ],
        *[(w, "PHASED") for w in ("基本完成", "阶段性完成", "取得阶段性成效")],
        *[
            (w, "IN_PROGRESS")
            for w in ("正在整改", "正在推进", "整改中", "持续推进", "进行中", "部分整改")
        ],
        *[(w, "NOT_DONE") for w in ("未完成", "未启动", "超期未完成")],
        ("长期坚持", "LONG_TERM"),
        (" 已完成。", "DONE"),
    ],
)
def test_the_status_words_of_the_domain_map_to_their_canonical_status(
    written: str, status: str
) -> None:
    reading = read_status(written)
    assert reading is not None and (reading.status, reading.extension) == (status, False)


def test_an_extension_is_in_progress_and_unknown_words_are_not_statuses() -> None:
    reading = read_status("申请延期至2024年12月底前")
    assert reading is not None and (reading.status, reading.extension) == ("IN_PROGRESS", True)
    assert read_status("差不多了") is None
    assert read_status("是") is None


@pytest.mark.parametrize(
    ("category", "sub", "l1", "l2"),
    [
        ("一、贯彻落实党的理论和路线方针政策、党中央重大决策部署方面存在的问题", None, "A", None),
        ("落实全面从严治党战略部署方面", None, "B", None),
        ("（三）落实新时代党的组织路线方面", None, "C", None),
        ("落实巡视巡察整改和成果运用方面", None, "D", None),
        ("党的领导弱化", None, "A", None),
        ("全面从严治党不力方面", None, "B", None),
        ("党的建设缺失", None, "C", None),
        ("落实全面从严治党战略部署方面", "违反中央八项规定精神", "B", "B03"),
        ("落实全面从严治党战略部署方面", "B03", "B", "B03"),
        ("选人用人方面", None, "C", "C03"),
        (None, "形式主义、官僚主义", "B", "B04"),
        ("落实全面从严治党战略部署方面", "财务管理", "B", None),
    ],
)
def test_category_wordings_map_to_l1_and_to_l2_only_when_the_wording_names_one(
    category: str | None, sub: str | None, l1: str, l2: str | None
) -> None:
    reading = Classifier().read(category, sub)
    assert (reading.l1, reading.l2) == (l1, l2)


@pytest.mark.parametrize(
    ("category", "sub", "reason"),
    [
        ("财务管理方面", None, "无法识别的问题类别"),
        ("落实新时代党的组织路线方面", "违反中央八项规定精神", "不属于一级类别 C"),
        ("党的领导弱化、党的建设缺失", None, "同时对应多个一级类别"),
    ],
)
def test_a_category_that_names_none_or_several_is_an_error(
    category: str, sub: str | None, reason: str
) -> None:
    with pytest.raises(CategoryError, match=reason):
        Classifier().read(category, sub)


@pytest.mark.parametrize(
    ("cell", "items"),
    [
        ("1.建立制度；\n2.开展培训\n3.整改到位", ["建立制度", "开展培训", "整改到位"]),
        ("1、建立制度。2、开展培训", ["建立制度。", "开展培训"]),
        ("（1）建立制度（2）开展培训", ["建立制度", "开展培训"]),
        ("①清退；②追缴", ["清退", "追缴"]),
        ("一是建立台账；二是加强督导。三是严肃问责", ["建立台账", "加强督导。", "严肃问责"]),
        ("1.2024年6月底前\n2.长期坚持", ["2024年6月底前", "长期坚持"]),
        ("清退违规发放的补贴2.5万元", ["清退违规发放的补贴2.5万元"]),
        ("按第1、2项要求执行", ["按第1、2项要求执行"]),
        ("1.只有一条措施", ["1.只有一条措施"]),
        ("2.从第二条开始；3.不成列表", ["2.从第二条开始；3.不成列表"]),
    ],
)
def test_a_cell_splits_into_measures_only_on_a_real_numbered_list(
    cell: str, items: list[str]
) -> None:
    assert split_numbered(cell) == items


# -- what is wrong is reported precisely ------------------------------------------------------


def _broken_ledger(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "台账"
    sheet.append(["某单位巡察整改台账"])
    sheet.append(["填报单位：市财政局", None, None, "截至时间：2024年6月30日"])
    sheet.append(["序号", "问题类别", "具体问题", "整改措施", "整改时限", "整改状态"])
    sheet.append(
        [1, "落实全面从严治党战略部署方面", "问题甲", "措施甲", "2024年13月底前", "已完成"]
    )
    sheet.append(
        [2, "落实全面从严治党战略部署方面", "问题乙", "措施乙", "2024年2月30日", "差不多了"]
    )
    sheet.append([3, "财务管理方面", "问题丙", "措施丙", "2024年6月底前", "已完成"])
    sheet.append([4, "落实全面从严治党战略部署方面", "问题丁", "措施丁", "长期坚持", "申请延期"])
    sheet.append([5, "落实全面从严治党战略部署方面", "问题戊", "措施戊", "2个月内", "正在整改"])
    sheet.append([6, "落实全面从严治党战略部署方面", "问题甲", "措施己", "2024年6月底前", "已完成"])
    sheet.append([7, "落实全面从严治党战略部署方面", None, "措施庚", "2024年6月底前", "已完成"])
    sheet.append(
        [
            8,
            "落实全面从严治党战略部署方面",
            "问题辛",
            "1.措施辛\n2.措施壬",
            "1.2024年6月底前\n2.2024年9月底前\n3.2024年底前",
            "正在整改",
        ]
    )
    sheet.append([9, "落实全面从严治党战略部署方面", "问题癸", "措施癸", "2024年6月底前", None])
    book.save(path)
    return path


def test_every_problem_in_a_broken_ledger_is_reported_with_row_column_value_and_reason(
    tmp_path: Path,
) -> None:
    result = read_ledger(_broken_ledger(tmp_path / "坏台账.xlsx"))  # no 反馈日期 given
    assert not result.ok
    found = {(p.row, p.column_letter, p.value, p.reason) for p in result.errors}
    expected = {
        (4, "E", "2024年13月底前", "月份“13”无效"),
        (5, "E", "2024年2月30日", "日期不存在：2024年2月30日"),
        (
            5,
            "F",
            "差不多了",
            "无法识别的整改状态（可用：已完成、已整改到位、已销号、整改完毕、√、基本完成、正在整改、"
            "持续推进、未完成、超期、申请延期、长期坚持；两个不同状态的词写在一起也无法识别）",
        ),
        (
            6,
            "B",
            "财务管理方面",
            "无法识别的问题类别“财务管理方面”（应为“四个落实”或“三个聚焦”的表述，"
            "如“落实全面从严治党战略部署方面”“党的建设缺失”，或二级类别名称）",
        ),
        (
            7,
            "F",
            "申请延期",
            "申请延期须写明批准的新时限（如“申请延期至2024年12月底前”，"
            "或在“整改时限”“延期时限”列填写新时限）",
        ),
        (8, "E", "2个月内", "相对时限（如“2个月内”）按反馈日期计算，但反馈日期未知"),
        (10, "C", None, "具体问题为空"),
        (
            11,
            "E",
            "1.2024年6月底前\n2.2024年9月底前\n3.2024年底前",
            "整改措施分为 2 条，但“整改时限”分为 3 条，无法对应",
        ),
        (12, "F", None, "整改状态为空"),
    }
    assert found == expected
    assert all(p.file == "坏台账.xlsx" and p.sheet == "台账" for p in result.errors)
    assert {p.column for p in result.errors if p.row == 4} == {"整改时限（E列）"}


def test_the_report_frame_has_one_chinese_row_per_problem(tmp_path: Path) -> None:
    result = read_ledger(_broken_ledger(tmp_path / "坏台账.xlsx"))
    frame = result.report_frame()
    assert frame.columns == ["级别", "文件", "工作表", "行", "列", "值", "问题"]
    assert frame.height == len(result.problems)
    assert set(frame["级别"].to_list()) <= {"错误", "提示"}
    assert any("第4行 整改时限（E列） 值“2024年13月底前”" in p.describe() for p in result.errors)


def test_a_ledger_without_the_required_columns_names_what_is_missing(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["序号", "具体问题", "整改措施", "责任部门"])
    sheet.append([1, "问题", "措施", "办公室"])
    book.save(tmp_path / "缺列.xlsx")
    result = read_ledger(tmp_path / "缺列.xlsx")
    reasons = [p.reason for p in result.errors]
    assert any(r.startswith("缺少必需的列“整改时限”") for r in reasons)
    assert any(r.startswith("缺少必需的列“整改状态”") for r in reasons)


def test_a_file_without_a_header_or_without_problem_rows_is_refused(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["这不是台账"])
    sheet.append(["只是一些文字"])
    book.save(tmp_path / "无表头.xlsx")
    result = read_ledger(tmp_path / "无表头.xlsx")
    assert not result.ok and "未找到台账表头" in result.errors[0].reason
    (tmp_path / "空台账.csv").write_text(
        "序号,问题类别,具体问题,整改措施,整改时限,整改状态\n", encoding="utf-8"
    )
    empty = read_ledger(tmp_path / "空台账.csv")
    assert not empty.ok and [p.reason for p in empty.errors] == ["文件中没有任何问题行"]


def test_blank_markers_full_width_text_and_a_two_row_header_are_understood(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["序号", "具体问题", "整改措施", "责任主体", None, None, "整改时限", "整改状态"])
    sheet.append([None, None, None, "责任领导", "责任部门", "责任人", None, None])
    sheet.merge_cells("D1:F1")
    for col in "ABCGH":
        sheet.merge_cells(f"{col}1:{col}2")
    sheet.append(
        ["１", "\u3000问题　甲 ", "措施甲", "—", "办公室", "/", "２０２４年６月底前", " 已完成 "]
    )
    book.save(tmp_path / "两行表头.xlsx")
    result = read_ledger(tmp_path / "两行表头.xlsx")
    # No category anywhere: 未分类 (Z99) with a 提示 and a count, never a refusal.
    assert result.ok, [p.describe() for p in result.errors]
    assert [(f.category_l1, f.category_l2) for f in result.findings] == [("Z", "Z99")]
    assert [p.reason[:13] for p in result.warnings] == ["1 个问题没有问题类别（台"]
    book2 = openpyxl.load_workbook(tmp_path / "两行表头.xlsx")
    sheet2 = book2.active
    assert sheet2 is not None
    sheet2.insert_rows(3)
    sheet2["A3"] = "一、落实全面从严治党战略部署方面"
    book2.save(tmp_path / "两行表头.xlsx")
    result = read_ledger(tmp_path / "两行表头.xlsx")
    assert result.ok, [p.describe() for p in result.errors]
    (finding,) = result.findings
    (measure,) = finding.measures
    assert finding.title == "问题　甲"
    assert (measure.lead_person, measure.department, measure.person) == (None, "办公室", None)
    assert (measure.deadline_date, measure.status) == (dt.date(2024, 6, 30), "DONE")


def test_the_template_has_dropdowns_a_frozen_header_and_reads_back_once_filled(
    tmp_path: Path,
) -> None:
    path = write_template(tmp_path / "模板.xlsx")
    book = openpyxl.load_workbook(path)
    sheet = book["整改台账"]
    assert sheet.freeze_panes == "A4"
    assert sheet["A1"].value.endswith("整改落实台账")
    assert str(sheet["A2"].value).startswith("填报单位")
    lists = [dv for dv in sheet.data_validations.dataValidation if dv.type == "list"]
    sources = " ".join(str(dv.formula1) for dv in lists)
    assert (
        "已完成" in sources and "申请延期" in sources and "落实全面从严治党战略部署方面" in sources
    )
    assert sheet["A4"].value == "示例"
    empty = read_ledger(path, feedback_date=FEEDBACK)
    assert not empty.ok and "示例行，已忽略" in [p.reason for p in empty.warnings]
    sheet["A5"], sheet["B5"], sheet["D5"] = 1, "落实新时代党的组织路线方面", "发展党员程序不规范"
    sheet["F5"], sheet["J5"], sheet["K5"] = "1.复核档案\n2.完善制度", "2024年9月底前", "正在整改"
    sheet["A2"] = "填报单位：市财政局"
    book.save(path)
    filled = read_ledger(path, feedback_date=FEEDBACK)
    assert filled.ok, [p.describe() for p in filled.errors]
    (finding,) = filled.findings
    assert (finding.category_l1, [m.text for m in finding.measures]) == (
        "C",
        ["复核档案", "完善制度"],
    )
    assert filled.unknown_columns == []


def test_a_workbook_is_read_sheet_by_sheet_skipping_notes_hidden_sheets_and_repeated_headers(
    tmp_path: Path,
) -> None:
    book = openpyxl.Workbook()
    notes = book.active
    assert notes is not None
    notes.title = "说明"
    notes.append(["本台账按季度更新"])
    header = ["序号", "问题类别", "具体问题", "整改措施", "整改时限", "整改状态"]
    first = book.create_sheet("一季度")
    first.append(header)
    first.append([1, "党的建设缺失", "问题甲", "措施甲", "2024年6月底前", "已完成"])
    first.append(header)  # a printed page's header pasted in again
    first.append([2, "党的建设缺失", "问题乙", "措施乙", "2024年6月底前", "正在整改"])
    second = book.create_sheet("二季度")
    second.append(header)
    second.append([1, "全面从严治党不力", "问题丙", "措施丙", "长期坚持", "长期坚持"])
    second.append([2, "全面从严治党不力", "问题甲", "措施丁", "2024年9月底前", "未完成"])
    hidden = book.create_sheet("草稿")
    hidden.append(header)
    hidden.sheet_state = "hidden"
    book.save(tmp_path / "多表.xlsx")
    result = read_ledger(tmp_path / "多表.xlsx", feedback_date=FEEDBACK)
    assert result.sheets == ["一季度", "二季度"]
    assert [(f.sheet, f.row, f.title, f.category_l1) for f in result.findings] == [
        ("一季度", 2, "问题甲", "C"),
        ("一季度", 4, "问题乙", "C"),
        ("二季度", 2, "问题丙", "B"),
        # The same words on another sheet are another problem (its own place), not an error.
        ("二季度", 3, "问题甲", "B"),
    ]
    assert [(p.sheet, p.row, p.severity, p.reason) for p in result.problems] == [
        ("草稿", None, "warning", "隐藏的工作表未读取"),
        ("说明", None, "warning", "工作表中没有台账表头，已跳过"),
    ]

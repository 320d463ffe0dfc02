"""Realistic ledgers (整改台账) in the layouts units really send, with what each holds.

Every sample is written cell by cell the way a unit's file looks, and carries, written out by
hand next to it, the findings, measures, categories, statuses and deadlines it holds: the
tests compare what the reader and the import make of the file with these, never with the
reader's own output.

1. `merged_xlsx` (市住建局): a merged title row, a 填报单位/截至时间 line, a blank row, the
   header, group rows "一、…方面" and "（一）…方面" (no category column), merged 序号 /
   具体问题 / 责任领导 cells over several measure rows, a date cell, full-width digits and
   spaces, blank markers, an unknown 督办意见 column, a footer line.
2. `one_row_xlsx` (市卫健委): one row per problem, several numbered measures in one cell with
   numbered deadlines and statuses to match, 问题类别 and 问题子类 columns, mixed deadline
   forms (Excel serial number, date cell, dotted and slashed dates, relative, quarter).
3. `gbk_csv` (城南街道): a GBK CSV exported from merged cells (values only on the first row of
   each problem), the older 三个聚焦 wording, no 整改状态 column (the status opens the
   progress text), footer lines.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.styles import Alignment

D = dt.date


@dataclass(frozen=True)
class M:
    """A measure as the ledger holds it."""

    text: str
    kind: str
    due: dt.date | None
    status: str
    status_text: str
    deadline_text: str
    long_term: bool = False
    extension: dt.date | None = None
    lead: str | None = None
    department: str | None = None
    person: str | None = None
    progress: str | None = None
    evidence: str | None = None


@dataclass(frozen=True)
class F:
    """A finding (problem) as the ledger holds it."""

    title: str
    l1: str
    l2: str | None
    source: str
    measures: tuple[M, ...]
    immediate: bool = False
    detail: str | None = None


@dataclass(frozen=True)
class Sample:
    name: str
    round_name: str
    unit_name: str
    feedback: dt.date
    as_of: dt.date
    findings: tuple[F, ...]
    unknown_columns: tuple[str, ...] = ()
    warnings: int = 0  # warnings the file is built to cause
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def measures(self) -> int:
        return sum(len(f.measures) for f in self.findings)


# -- 1. merged cells (市住建局) --------------------------------------------------------------

ZJ_ROUND = "十四届市委第五轮巡察"
ZJ_UNIT = "市住建局"
ZJ_FEEDBACK = D(2024, 3, 15)
G1 = "一、贯彻落实党的理论和路线方针政策、党中央重大决策部署方面"
G2 = "二、落实全面从严治党战略部署方面"
G2A = "（一）违反中央八项规定精神方面"
G2B = "（二）形式主义、官僚主义方面"
G3 = "三、落实新时代党的组织路线方面"
P1 = "落实城市更新决策部署不到位，老旧小区改造项目推进缓慢"
P2 = "理论学习中心组学习流于形式，研讨发言质量不高"
P3 = "公务接待管理不规范，存在无公函接待现象"
P4 = "执法检查填报表格多、督查检查过频，基层负担重"
P5 = "基层党支部“三会一课”制度落实不严格"
P6 = "党员发展工作不规范，部分发展对象培养考察流于形式"

P1M1 = "制定老旧小区改造三年行动计划，明确时间表和路线图"
P1M2 = "建立项目月调度机制，每月通报进度"
P1M3 = "对进度滞后的项目约谈建设单位"
P2M1 = "修订党组理论学习中心组学习制度，落实专题研讨和发言材料审核"
P2M2 = "每季度开展一次学习成效测评"
P3M1 = "修订公务接待管理办法，严格执行公函制度"
P3M2 = "对2023年以来公务接待开展自查，违规费用予以清退"
P4M1 = "精简检查表格，统筹合并督查检查事项"
P5M1 = "制定支部组织生活清单，按月督导落实"
P5M2 = "将“三会一课”落实情况纳入支部书记述职评议"
P6M1 = "开展党员发展档案专项检查"

MERGED_FINDINGS = (
    F(
        P1,
        "A",
        None,
        G1,
        (
            M(
                P1M1,
                "DATE",
                D(2024, 6, 30),
                "DONE",
                "已完成",
                "2024年6月底前",
                lead="张副局长",
                department="城建科",
                person="王科长",
                progress="计划已印发实施",
            ),
            M(
                P1M2,
                "LONG_TERM",
                None,
                "IN_PROGRESS",
                "正在推进",
                "常态化",
                long_term=True,
                lead="张副局长",
                department="城建科",
                person=None,
                progress="已召开调度会3次",
            ),
            M(
                P1M3,
                "DATE",
                D(2024, 9, 30),
                "IN_PROGRESS",
                "正在整改",
                "2024年9月30日",
                lead="张副局长",
                department="质安站",
                person="刘站长",
                progress="已约谈2家单位",
            ),
        ),
    ),
    F(
        P2,
        "A",
        None,
        G1,
        (
            M(
                P2M1,
                "DATE",
                D(2024, 4, 30),
                "DONE",
                "已整改到位",
                "2024年4月",
                lead="李书记",
                department="办公室",
                person="赵主任",
                progress="制度已修订",
            ),
        ),
    ),
    F(
        P3,
        "B",
        "B03",
        f"{G2} / {G2A}",
        (
            M(
                P3M1,
                "DATE",
                D(2024, 5, 31),
                "DONE",
                "已完成",
                "2024-05-31",
                lead="陈副局长",
                department="办公室",
                person="赵主任",
                progress="管理办法已印发",
            ),
            M(
                P3M2,
                "DATE",
                D(2024, 6, 30),
                "IN_PROGRESS",
                "申请延期至2024年12月31日",
                "2024年6月底前",
                extension=D(2024, 12, 31),
                lead="陈副局长",
                department="财务科",
                person="孙科长",
                progress="已清退2.5万元",
            ),
        ),
    ),
    F(
        P4,
        "B",
        "B04",
        f"{G2} / {G2B}",
        (
            M(
                P4M1,
                "IMMEDIATE",
                ZJ_FEEDBACK,
                "DONE",
                "已完成",
                "立行立改",
                lead="陈副局长",
                department="执法支队",
                person="周队长",
                progress=None,
            ),
        ),
        immediate=True,
    ),
    F(
        P5,
        "C",
        None,
        G3,
        (
            M(
                P5M1,
                "DATE",
                D(2024, 9, 30),
                "IN_PROGRESS",
                "正在整改",
                "２０２４年９月底前",
                lead="李书记",
                department="机关党委",
                person="吴专职副书记",
                progress="清单已制定",
            ),
            M(
                P5M2,
                "DATE",
                D(2024, 6, 30),
                "PHASED",
                "基本完成",
                "2024年6月底前完成，长期坚持",
                long_term=True,
                lead="李书记",
                department="机关党委",
                person="吴专职副书记",
                progress="已纳入述职评议",
            ),
        ),
    ),
)

MERGED = Sample(
    name="住建局整改台账.xlsx",
    round_name=ZJ_ROUND,
    unit_name=ZJ_UNIT,
    feedback=ZJ_FEEDBACK,
    as_of=D(2024, 6, 30),
    findings=MERGED_FINDINGS,
    unknown_columns=("督办意见",),
    warnings=1,  # the 督办意见 column is listed as not imported
)

# The unit's next ledger, three months on: statuses moved, an extension closed, a measure and
# a problem added; 截至 2024-09-30.
PROGRESS_AS_OF = D(2024, 9, 30)


def merged_xlsx(path: Path, *, progress: bool = False, new_problem: bool = True) -> Path:
    """Layout 1; `progress=True` writes the unit's later ledger (截至 2024-09-30), with the
    problem P6 first listed there unless `new_problem=False`."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "整改台账"
    wrap = Alignment(wrap_text=True, vertical="top")
    as_of = "2024年9月30日" if progress else "2024年6月30日"

    def put(row: int, values: list[Any]) -> None:
        for col, value in enumerate(values, start=1):
            if value is not None:
                sheet.cell(row=row, column=col, value=value).alignment = wrap

    sheet["A1"] = "中共江城市住房和城乡建设局党组关于市委第三巡察组反馈意见整改落实台账"
    sheet.merge_cells("A1:J1")
    sheet["A2"] = "填报单位：市住建局"
    sheet.merge_cells("A2:E2")
    sheet["F2"] = f"截至时间：{as_of}"
    sheet.merge_cells("F2:J2")
    put(
        4,
        [
            "序 号",
            "具体问题",
            "整改措施",
            "责任领导",
            "责任部门",
            "责任人",
            "整改时限",
            "整改状态",
            "整改进展",
            "督办意见",
        ],
    )
    sheet["A5"] = G1
    sheet.merge_cells("A5:J5")
    p1m3_status = "已完成" if progress else "正在整改"
    put(
        6,
        [
            1,
            P1,
            P1M1,
            "张副局长",
            "城建科",
            "王科长",
            "2024年6月底前",
            "已完成",
            "计划已印发实施",
            None,
        ],
    )
    put(7, [None, None, P1M2, None, "城建科", "—", "常态化", "正在推进", "已召开调度会3次", None])
    put(
        8,
        [
            None,
            None,
            P1M3,
            None,
            "质安站",
            "刘站长",
            "2024年9月30日",
            p1m3_status,
            "已约谈2家单位",
            "已报局党组",
        ],
    )
    for rng in ("A6:A8", "B6:B8", "D6:D8"):
        sheet.merge_cells(rng)
    row = 9
    if progress:
        put(
            9,
            [
                2,
                P2,
                P2M1,
                "李书记",
                "办公室",
                "赵主任",
                "2024年4月",
                "已整改到位",
                "制度已修订",
                None,
            ],
        )
        put(
            10,
            [None, None, P2M2, None, "办公室", "赵主任", "2024年12月底前", "正在整改", "/", None],
        )
        for rng in ("A9:A10", "B9:B10", "D9:D10"):
            sheet.merge_cells(rng)
        row = 11
    else:
        put(
            9,
            [
                2,
                P2,
                P2M1,
                "李书记",
                "办公室",
                "赵主任",
                "2024年4月",
                "已整改到位",
                "制度已修订",
                None,
            ],
        )
        row = 10
    sheet.cell(row=row, column=1, value=G2)
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=10)
    sheet.cell(row=row + 1, column=1, value=G2A)
    sheet.merge_cells(start_row=row + 1, start_column=1, end_row=row + 1, end_column=10)
    r = row + 2
    put(
        r,
        [
            3,
            P3,
            P3M1,
            "陈副局长",
            "办公室",
            "赵主任",
            dt.datetime(2024, 5, 31),
            "已完成",
            "管理办法已印发",
            None,
        ],
    )
    sheet.cell(row=r, column=7).number_format = "yyyy-mm-dd"
    p3m2_status = "已完成" if progress else "申请延期至2024年12月31日"
    put(
        r + 1,
        [
            None,
            None,
            P3M2,
            None,
            "财务科",
            "孙科长",
            "2024年6月底前",
            p3m2_status,
            "已清退2.5万元",
            None,
        ],
    )
    for col in ("A", "B", "D"):
        sheet.merge_cells(f"{col}{r}:{col}{r + 1}")
    sheet.cell(row=r + 2, column=1, value=G2B)
    sheet.merge_cells(start_row=r + 2, start_column=1, end_row=r + 2, end_column=10)
    put(r + 3, [4, P4, P4M1, "陈副局长", "执法支队", "周队长", "立行立改", "已完成", "/", None])
    sheet.cell(row=r + 4, column=1, value=G3)
    sheet.merge_cells(start_row=r + 4, start_column=1, end_row=r + 4, end_column=10)
    s = r + 5
    p5m1_status = "已完成" if progress else "正在整改"
    put(
        s,
        [
            "５",
            "\u3000" + P5,
            P5M1,
            "李书记",
            "机关党委",
            "吴专职副书记",
            "２０２４年９月底前",
            p5m1_status,
            "清单已制定",
            None,
        ],
    )
    put(
        s + 1,
        [
            None,
            None,
            P5M2,
            None,
            None,
            None,
            "2024年6月底前完成，长期坚持",
            "基本完成",
            "已纳入述职评议",
            None,
        ],
    )
    for col in ("A", "B", "D", "E", "F"):
        sheet.merge_cells(f"{col}{s}:{col}{s + 1}")
    end = s + 2
    if progress and new_problem:
        put(
            end,
            [
                6,
                P6,
                P6M1,
                "李书记",
                "机关党委",
                "吴专职副书记",
                "2024年12月底前",
                "正在整改",
                "已部署",
                None,
            ],
        )
        end += 1
    footer = end + 1
    sheet.cell(
        row=footer,
        column=1,
        value="审核人：王某某\u3000\u3000填报人：李某某\u3000\u3000联系电话：0571-88886666",
    )
    sheet.merge_cells(start_row=footer, start_column=1, end_row=footer, end_column=10)
    book.save(path)
    return path


# The progress ledger's findings: P1M3, P3M2, P5M1 are now done (as of 2024-09-30), P2 got a
# second measure and P6 is new (group 三 → C).
PROGRESS_FINDINGS = (
    F(
        P1,
        "A",
        None,
        G1,
        (
            MERGED_FINDINGS[0].measures[0],
            MERGED_FINDINGS[0].measures[1],
            M(
                P1M3,
                "DATE",
                D(2024, 9, 30),
                "DONE",
                "已完成",
                "2024年9月30日",
                lead="张副局长",
                department="质安站",
                person="刘站长",
                progress="已约谈2家单位",
            ),
        ),
    ),
    F(
        P2,
        "A",
        None,
        G1,
        (
            MERGED_FINDINGS[1].measures[0],
            M(
                P2M2,
                "DATE",
                D(2024, 12, 31),
                "IN_PROGRESS",
                "正在整改",
                "2024年12月底前",
                lead="李书记",
                department="办公室",
                person="赵主任",
                progress=None,
            ),
        ),
    ),
    F(
        P3,
        "B",
        "B03",
        f"{G2} / {G2A}",
        (
            MERGED_FINDINGS[2].measures[0],
            M(
                P3M2,
                "DATE",
                D(2024, 6, 30),
                "DONE",
                "已完成",
                "2024年6月底前",
                lead="陈副局长",
                department="财务科",
                person="孙科长",
                progress="已清退2.5万元",
            ),
        ),
    ),
    MERGED_FINDINGS[3],
    F(
        P5,
        "C",
        None,
        G3,
        (
            M(
                P5M1,
                "DATE",
                D(2024, 9, 30),
                "DONE",
                "已完成",
                "２０２４年９月底前",
                lead="李书记",
                department="机关党委",
                person="吴专职副书记",
                progress="清单已制定",
            ),
            MERGED_FINDINGS[4].measures[1],
        ),
    ),
    F(
        P6,
        "C",
        None,
        G3,
        (
            M(
                P6M1,
                "DATE",
                D(2024, 12, 31),
                "IN_PROGRESS",
                "正在整改",
                "2024年12月底前",
                lead="李书记",
                department="机关党委",
                person="吴专职副书记",
                progress="已部署",
            ),
        ),
    ),
)

PROGRESS = Sample(
    name="住建局整改台账（第二次报送）.xlsx",
    round_name=ZJ_ROUND,
    unit_name=ZJ_UNIT,
    feedback=ZJ_FEEDBACK,
    as_of=PROGRESS_AS_OF,
    findings=PROGRESS_FINDINGS,
    unknown_columns=("督办意见",),
    warnings=1,
)
# The same later ledger without the newly listed problem P6: a pure progress update.
PROGRESS_ONLY = Sample(
    name="住建局整改台账（进展）.xlsx",
    round_name=ZJ_ROUND,
    unit_name=ZJ_UNIT,
    feedback=ZJ_FEEDBACK,
    as_of=PROGRESS_AS_OF,
    findings=PROGRESS_FINDINGS[:-1],
    unknown_columns=("督办意见",),
    warnings=1,
)


# -- 2. one row per problem (市卫健委) -------------------------------------------------------

WJ_FEEDBACK = D(2024, 7, 10)
W1 = "分级诊疗制度落实不到位，基层首诊率偏低"
W2 = "药品耗材集中采购监管不严"
W3 = "干部选拔任用程序不规范"
W4 = "上轮巡察反馈的医疗服务价格问题整改不彻底"
W5 = "财务报销审核把关不严"
W6 = "医德医风问题投诉处理不及时"
W7 = "卫生监督执法不规范"
W8 = "疫情防控物资管理不规范"
WA = "贯彻落实党的理论和路线方针政策方面"
WB = "落实全面从严治党战略部署方面"
WC = "落实新时代党的组织路线方面"
WD = "落实巡视巡察整改和成果运用方面"


def _w(
    text: str,
    kind: str,
    due: dt.date | None,
    status: str,
    status_text: str,
    deadline: str,
    lead: str,
    dept: str,
    person: str | None,
    progress: str | None = None,
    evidence: str | None = None,
) -> M:
    return M(
        text,
        kind,
        due,
        status,
        status_text,
        deadline,
        lead=lead,
        department=dept,
        person=person,
        progress=progress,
        evidence=evidence,
    )


ONE_ROW_FINDINGS = (
    F(
        W1,
        "A",
        "A02",
        f"{WA} / 决策部署落实不到位",
        (
            _w(
                "制定分级诊疗推进方案",
                "DATE",
                D(2024, 10, 31),
                "DONE",
                "已完成",
                "2024年10月底前",
                "钱副主任",
                "医政科",
                "郑科长",
                "方案已印发",
            ),
            _w(
                "开展基层医疗机构能力提升行动",
                "DATE",
                D(2024, 12, 31),
                "IN_PROGRESS",
                "正在整改",
                "2024年底前",
                "钱副主任",
                "医政科",
                "郑科长",
                "方案已印发",
            ),
            _w(
                "建立双向转诊考核机制",
                "DATE",
                D(2025, 6, 30),
                "NOT_DONE",
                "未启动",
                "2025年上半年",
                "钱副主任",
                "医政科",
                "郑科长",
                "方案已印发",
            ),
        ),
        detail="2023年基层首诊率为38%，低于全省平均水平",
    ),
    F(
        W2,
        "B",
        "B05",
        f"{WB} / 重点领域廉洁风险",
        (
            _w(
                "开展药品耗材采购专项检查",
                "DATE",
                D(2024, 9, 30),
                "DONE",
                "已完成",
                "45565",
                "钱副主任",
                "药政科",
                "冯科长",
                "专项检查已完成，监测制度已印发",
                "检查通报、制度文件",
            ),
            _w(
                "建立采购数据月度监测制度",
                "DATE",
                D(2024, 9, 30),
                "DONE",
                "已完成",
                "45565",
                "钱副主任",
                "药政科",
                "冯科长",
                "专项检查已完成，监测制度已印发",
                "检查通报、制度文件",
            ),
        ),
        detail="部分医院存在线下采购行为",
    ),
    F(
        W3,
        "C",
        "C03",
        f"{WC} / 选人用人",
        (
            _w(
                "规范干部选拔任用纪实",
                "DATE",
                D(2024, 12, 31),
                "IN_PROGRESS",
                "正在整改",
                "2024-12-31",
                "孙书记",
                "组织人事科",
                "何科长",
            ),
            _w(
                "开展干部档案专项审核",
                "DATE",
                D(2024, 12, 31),
                "IN_PROGRESS",
                "正在整改",
                "2024-12-31",
                "孙书记",
                "组织人事科",
                "何科长",
            ),
        ),
    ),
    F(
        W4,
        "D",
        None,
        WD,
        (
            _w(
                "对照上轮问题清单逐项复核整改情况",
                "RELATIVE",
                D(2024, 10, 10),
                "PHASED",
                "基本完成",
                "反馈后三个月内",
                "孙书记",
                "财务科",
                "韩科长",
                "已复核12项",
            ),
        ),
    ),
    F(
        W5,
        "B",
        None,
        f"{WB} / 财务管理",
        (
            _w(
                "开展财务报销凭证专项清查",
                "RELATIVE",
                D(2024, 9, 10),
                "DONE",
                "已完成",
                "2个月内",
                "钱副主任",
                "财务科",
                "韩科长",
                "已清查凭证1200份",
            ),
        ),
    ),
    F(
        W6,
        "B",
        None,
        WB,
        (
            _w(
                "建立投诉限时办结制度",
                "DATE",
                D(2024, 11, 30),
                "IN_PROGRESS",
                "正在推进",
                "2024.11.30",
                "钱副主任",
                "医政科",
                "郑科长",
            ),
        ),
    ),
    F(
        W7,
        "B",
        None,
        WB,
        (
            _w(
                "开展执法案卷评查",
                "DATE",
                D(2024, 10, 31),
                "NOT_DONE",
                "未完成",
                "2024/10/31",
                "孙书记",
                "监督所",
                "褚所长",
            ),
        ),
    ),
    F(
        W8,
        "B",
        None,
        WB,
        (
            _w(
                "清查盘点防控物资",
                "DATE",
                D(2025, 3, 31),
                "IN_PROGRESS",
                "正在整改",
                "2025年一季度",
                "钱副主任",
                "疾控科",
                "卫科长",
            ),
        ),
    ),
)

ONE_ROW = Sample(
    name="卫健委巡察整改台账.xlsx",
    round_name="十四届市委第六轮巡察",
    unit_name="市卫健委",
    feedback=WJ_FEEDBACK,
    as_of=D(2024, 9, 30),
    findings=ONE_ROW_FINDINGS,
    warnings=1,  # 问题子类 “财务管理” is not an L2 name: L2 left empty, said so
)


def one_row_xlsx(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "问题清单"
    sheet["A1"] = "市卫生健康委员会巡察整改落实台账（截至2024年9月30日）"
    sheet.merge_cells("A1:M1")
    sheet["A2"] = "填报单位：市卫健委"
    header = [
        "序号",
        "问题类别",
        "问题子类",
        "存在问题",
        "具体表现",
        "整改措施",
        "分管领导",
        "牵头股室",
        "具体经办人",
        "完成时限",
        "整改状态",
        "推进情况",
        "佐证材料",
    ]
    rows: list[list[Any]] = [
        [
            1,
            WA,
            "决策部署落实不到位",
            W1,
            "2023年基层首诊率为38%，低于全省平均水平",
            "1.制定分级诊疗推进方案；\n2.开展基层医疗机构能力提升行动；\n3.建立双向转诊考核机制",
            "钱副主任",
            "医政科",
            "郑科长",
            "1.2024年10月底前\n2.2024年底前\n3.2025年上半年",
            "1.已完成\n2.正在整改\n3.未启动",
            "方案已印发",
            "/",
        ],
        [
            "２",
            WB,
            "重点领域廉洁风险",
            W2,
            "部分医院存在线下采购行为",
            "（1）开展药品耗材采购专项检查（2）建立采购数据月度监测制度",
            "钱副主任",
            "药政科",
            "冯科长",
            45565,
            "已完成",
            "专项检查已完成，监测制度已印发",
            "检查通报、制度文件",
        ],
        [
            3,
            WC,
            "选人用人",
            W3,
            "/",
            "一是规范干部选拔任用纪实；二是开展干部档案专项审核",
            "孙书记",
            "组织人事科",
            "何科长",
            dt.datetime(2024, 12, 31),
            "正在整改",
            None,
            "—",
        ],
        [
            4,
            WD,
            None,
            W4,
            None,
            "对照上轮问题清单逐项复核整改情况",
            "孙书记",
            "财务科",
            "韩科长",
            "反馈后三个月内",
            "基本完成",
            "已复核12项",
            None,
        ],
        [
            5,
            WB,
            "财务管理",
            W5,
            None,
            "开展财务报销凭证专项清查",
            "钱副主任",
            "财务科",
            "韩科长",
            "2个月内",
            "已完成",
            "已清查凭证1200份",
            None,
        ],
        [
            6,
            WB,
            None,
            W6,
            None,
            "建立投诉限时办结制度",
            "钱副主任",
            "医政科",
            "郑科长",
            "2024.11.30",
            "正在推进",
            None,
            None,
        ],
        [
            7,
            WB,
            "",
            W7,
            None,
            "开展执法案卷评查",
            "孙书记",
            "监督所",
            "褚所长",
            "2024/10/31",
            "未完成",
            None,
            None,
        ],
        [
            8,
            WB,
            None,
            W8,
            None,
            "清查盘点防控物资",
            "钱副主任",
            "疾控科",
            "卫科长",
            "2025年一季度",
            "正在整改",
            None,
            None,
        ],
    ]
    for col, name in enumerate(header, start=1):
        sheet.cell(row=3, column=col, value=name)
    for r, values in enumerate(rows, start=4):
        for col, value in enumerate(values, start=1):
            if value is not None:
                sheet.cell(row=r, column=col, value=value)
    sheet.cell(row=6, column=10).number_format = "yyyy/m/d"
    sheet.cell(row=13, column=1, value="填报人：冯某\u3000联系电话：12345678")
    book.save(path)
    return path


# -- 3. GBK CSV from merged cells (城南街道) ------------------------------------------------

CN_FEEDBACK = D(2020, 12, 20)
C1 = "贯彻落实上级决策部署打折扣，安全生产隐患排查不彻底"
C2 = "村级财务管理混乱，白条入账问题突出"
C3 = "发展党员程序不规范"

CSV_FINDINGS = (
    F(
        C1,
        "A",
        None,
        "党的领导弱化",
        (
            M(
                "开展安全生产大排查",
                "IMMEDIATE",
                CN_FEEDBACK,
                "DONE",
                "已完成。共排查隐患56处",
                "立行立改",
                lead="吴主任",
                department="应急办",
                person="许某",
                progress="已完成。共排查隐患56处",
            ),
            M(
                "建立隐患整改销号台账",
                "DATE",
                D(2021, 3, 31),
                "IN_PROGRESS",
                "正在整改，已销号41处",
                "2021年3月底前",
                lead="吴主任",
                department="应急办",
                person="许某",
                progress="正在整改，已销号41处",
            ),
            M(
                "落实网格员日常巡查制度",
                "LONG_TERM",
                None,
                "IN_PROGRESS",
                "正在整改",
                "常态化",
                long_term=True,
                lead="吴主任",
                department="应急办",
                person="许某",
                progress="正在整改",
            ),
        ),
    ),
    F(
        C2,
        "B",
        None,
        "全面从严治党不力",
        (
            M(
                "开展村级财务专项审计",
                "RELATIVE",
                D(2021, 3, 20),
                "PHASED",
                "基本完成，审计已覆盖8个村",
                "3个月内",
                lead="沈副书记",
                department="财政所",
                person="曹某",
                progress="基本完成，审计已覆盖8个村",
            ),
            M(
                "规范村级财务报销审批流程",
                "DATE",
                D(2021, 2, 28),
                "DONE",
                "已完成",
                "2021/2/28",
                lead="沈副书记",
                department="财政所",
                person="曹某",
                progress="已完成",
            ),
        ),
    ),
    F(
        C3,
        "C",
        None,
        "党的建设缺失",
        (
            M(
                "对2018年以来发展的党员档案逐一复核",
                "DATE",
                D(2021, 3, 31),
                "NOT_DONE",
                "未启动",
                "2021年一季度",
                lead="沈副书记",
                department="党建办",
                person="严某",
                progress="未启动",
            ),
        ),
    ),
)

GBK = Sample(
    name="城南街道整改台账.csv",
    round_name="十三届市委第七轮巡察",
    unit_name="江城市城南街道党工委",
    feedback=CN_FEEDBACK,
    as_of=D(2021, 3, 31),
    findings=CSV_FINDINGS,
)


def csv_rows() -> list[list[str]]:
    width = 9
    rows = [
        ["中共江城市城南街道工作委员会关于十三届市委第七轮巡察反馈意见整改落实台账"],
        ["截至时间：2021年3月31日"],
        [],
        [
            "序号",
            "问题类别",
            "具体问题",
            "整改措施",
            "责任领导",
            "责任科室",
            "具体经办人",
            "整改时限",
            "整改进展",
        ],
        [
            "1",
            "党的领导弱化",
            C1,
            "1.开展安全生产大排查",
            "吴主任",
            "应急办",
            "许某",
            "立行立改",
            "已完成。共排查隐患56处",
        ],
        ["", "", "", "2.建立隐患整改销号台账", "", "", "", "2021年3月底前", "正在整改，已销号41处"],
        ["", "", "", "3.落实网格员日常巡查制度", "", "", "", "常态化", "正在整改"],
        [
            "2",
            "全面从严治党不力",
            C2,
            "开展村级财务专项审计",
            "沈副书记",
            "财政所",
            "曹某",
            "3个月内",
            "基本完成，审计已覆盖8个村",
        ],
        ["", "", "", "规范村级财务报销审批流程", "", "", "", "2021/2/28", "已完成"],
        [
            "3",
            "党的建设缺失",
            C3,
            "对2018年以来发展的党员档案逐一复核",
            "沈副书记",
            "党建办",
            "严某",
            "2021年一季度",
            "未启动",
        ],
        [],
        ["填报人：华某"],
        ["联系电话：0571-66668888"],
    ]
    return [r + [""] * (width - len(r)) for r in rows]


def gbk_csv(path: Path, encoding: str = "gbk") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(csv_rows())
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


SAMPLES = {"merged": MERGED, "one_row": ONE_ROW, "gbk_csv": GBK}
BUILDERS = {"merged": merged_xlsx, "one_row": one_row_xlsx, "gbk_csv": gbk_csv}


def build(kind: str, folder: Path) -> tuple[Sample, Path]:
    sample = SAMPLES[kind]
    return sample, BUILDERS[kind](folder / sample.name)


# -- hostile and broken files ------------------------------------------------------------


def rezip(
    source: Path,
    target: Path,
    replace: dict[str, bytes] | None = None,
    add: dict[str, bytes] | None = None,
) -> Path:
    """A copy of an .xlsx with some parts replaced or added."""
    replace, add = replace or {}, add or {}
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            zout.writestr(item, replace.get(item.filename, zin.read(item.filename)))
        for name, data in add.items():
            zout.writestr(name, data)
    return target


def part(source: Path, name: str) -> bytes:
    with zipfile.ZipFile(source) as archive:
        return archive.read(name)


# -- stores ------------------------------------------------------------------------------


def state(store: Any) -> tuple[int, dict[str, int]]:
    """The store's data version and the row count of every table (what `xuncha info` says)."""
    from xuncha.store import open_reader
    from xuncha.store.reader import table_counts

    reader = open_reader(store)
    try:
        return reader.version, table_counts(reader)
    finally:
        reader.close()


def rows(store: Any, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    from xuncha.store import open_reader

    reader = open_reader(store)
    try:
        cursor = reader._con.cursor()
        try:
            return cursor.execute(sql, params or []).fetchall()
        finally:
            cursor.close()
    finally:
        reader.close()

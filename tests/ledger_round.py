"""One realistic inspection round (十四届市委第八轮巡察): forty unit ledgers in the forms offices
really send, with what each holds, and the figures of its published progress notice.

The round: 40 units in two waves (反馈 in April and in July 2024), 697 problems in total, each
ledger 截至 2024-12-31. 688 problems have every measure done, 4 are 基本完成 (what is left is
基本完成 or 长期坚持), 5 are open (a measure 正在整改 / 持续推进 / 未完成 / 超期): the notice's
整改完成率 98.71% (DOMAIN.md §5, strict, by finding). A later progress set (截至 2025-03-31)
for three units closes two open problems and one 基本完成 problem: 691 of 697, 99.14%.

Everything is decided by a seeded `random.Random` in `plan_round`, before any file exists; the
writers then put each planned value into its cell, and each unit's expected findings are
built from the plan (what went into the file), never from reading the file back. Due dates
are computed here from the written form; working-day deadlines are written out by hand from
the State Council's 2024 holiday notice (国办发明电〔2023〕7号), counting from the day after
the 反馈日期:

- 2024-04-01 + 10 个工作日 → 2024-04-16 (清明 4-4…4-6 off, Sunday 4-7 worked)
- 2024-04-25 + 15 个工作日 → 2024-05-17 (Sunday 4-28 worked, 5-1…5-5 off, Saturday 5-11 worked)
- 2024-04-26 + 10 个工作日 → 2024-05-13 (same 劳动节 arrangement)

Ledger forms (`Unit.form`), each used by several units:

- "a"  merged cells: merged title, 填报单位/截至时间 line, group rows "一、…方面" merged across
       the width, 序号 restarting per group, 序号/具体问题/具体表现 merged over measure rows.
- "b"  one row per problem, numbered measures "1.…\\n2.…" with numbered deadlines and
       statuses, 问题类别 and 问题子类 columns.
- "c"  CSV exported from merged cells (UTF-8 with BOM, or GBK): problem values on the first
       row only.
- "d"  group row with "一、" in the 序号 column and "…方面" merged across the rest.
- "e"  no 问题类别 column, no group rows (categories Z / Z99).
- "f1" a 说明 cover sheet first, the ledger (form a or b) on the second sheet.
- "f2" a 问题清单 sheet and a 任务清单 sheet joined by 序号.
- "g"  two merged header rows (整改情况 over 整改措施/完成时限/完成情况), 备注 column, 小计 and
       合计 rows, blank spacer rows, hidden data rows, line breaks inside cells.
- "h"  legacy .xls (form a or g converted by LibreOffice; kept .xlsx if soffice fails).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.styles import Alignment
from openpyxl.worksheet.worksheet import Worksheet

D = dt.date

ROUND_NAME = "十四届市委第八轮巡察"
AS_OF = D(2024, 12, 31)
PROGRESS_AS_OF = D(2025, 3, 31)
SEED = 20241231

# The published notice (expected figures, DOMAIN.md §5).
TOTAL_FINDINGS = 697
DONE_FINDINGS = 688
BASICALLY_DONE_FINDINGS = 4
OPEN_FINDINGS = 5
COMPLETION_RATE = "98.71"
PROGRESS_DONE_FINDINGS = 691
PROGRESS_BASICALLY_DONE_FINDINGS = 3
PROGRESS_OPEN_FINDINGS = 3
PROGRESS_COMPLETION_RATE = "99.14"

# The four L1 wordings as ledgers write them (DOMAIN.md §3), without the numbering.
L1_WORDING = {
    "A": "贯彻落实党的理论和路线方针政策、党中央重大决策部署方面",
    "B": "落实全面从严治党战略部署方面",
    "C": "落实新时代党的组织路线方面",
    "D": "落实巡视巡察整改和成果运用方面",
}
CN_NUMERALS = "一二三四五六七八九十"

# -- what problems say -------------------------------------------------------------------

# (title, L2 code, how a 问题子类 cell names it, detail templates, own measures)
TITLES: dict[str, list[tuple[str, str, str, tuple[str, ...], tuple[str, ...]]]] = {
    "A": [
        (
            "学习贯彻习近平新时代中国特色社会主义思想不够深入",
            "A01",
            "理论学习",
            ("党组理论学习中心组{y}年集体学习{n}次，专题研讨仅{m}次，研讨发言照本宣科",),
            ("修订党组理论学习中心组学习制度", "每季度组织一次专题研讨并交流发言"),
        ),
        (
            "落实“第一议题”制度不到位",
            "A01",
            "第一议题",
            ("{y}年有{n}次党组会议未将学习习近平总书记重要讲话精神列为第一议题",),
            ("严格落实“第一议题”制度，建立学习台账", "对学习落实情况每半年开展一次检查"),
        ),
        (
            "贯彻落实上级决策部署打折扣",
            "A02",
            "决策部署落实不到位",
            ("{n}项年度重点任务中有{m}项未按期完成，督办落实不力",),
            ("逐项梳理未完成任务，制定推进计划", "建立重点任务月调度、季通报机制"),
        ),
        (
            "重点任务推进缓慢",
            "A02",
            "决策部署落实不到位",
            ("{n}个重点项目中{m}个进度滞后于年度计划",),
            ("对滞后项目挂图作战，明确节点", "实行领导班子成员包联推进"),
        ),
        (
            "主责主业聚焦不够",
            "A03",
            "主责主业",
            ("年度工作要点{n}项任务中与主责主业无关的有{m}项",),
            ("重新梳理职责清单，聚焦主责主业", "调整年度工作要点并报备"),
        ),
        (
            "服务发展大局意识不强",
            "A03",
            "服务发展不力",
            ("营商环境评价中{n}项指标排名靠后，企业反映办事环节多达{m}个",),
            ("精简办事环节，推行一窗通办", "开展服务企业大走访活动"),
        ),
        (
            "意识形态工作责任制落实不到位",
            "A04",
            "意识形态责任制",
            ("{y}年仅专题研究意识形态工作{n}次，阵地管理台账缺失{m}项",),
            ("每半年专题研究一次意识形态工作", "建立意识形态阵地管理台账"),
        ),
        (
            "安全生产隐患排查不彻底",
            "A05",
            "重大风险防范",
            ("抽查{n}处场所发现安全隐患{m}处，其中{k}处为上年已排查出的隐患",),
            ("开展安全生产隐患大排查大整治", "建立隐患整改销号台账"),
        ),
        (
            "风险防范化解不力",
            "A05",
            "重大风险防范",
            ("{n}项存量风险未制定化解方案，涉及金额{amount}万元",),
            ("逐项制定风险化解方案", "建立风险监测预警机制"),
        ),
        (
            "群众反映强烈的问题解决不及时",
            "A06",
            "群众身边不正之风和腐败",
            ("{y}年受理群众诉求{n}件，超期办理{m}件",),
            ("建立群众诉求限时办结制度", "对超期件逐件回访"),
        ),
        (
            "惠民政策落实不精准",
            "A06",
            "群众身边不正之风和腐败",
            ("抽查{n}户补贴对象，发现{m}户不符合条件仍在享受",),
            ("对补贴对象开展全面复核", "追回违规发放资金并建立动态管理机制"),
        ),
    ],
    "B": [
        (
            "落实管党治党主体责任不到位",
            "B01",
            "主体责任",
            ("党组{y}年专题研究党风廉政建设仅{n}次，“一岗双责”落实不到位",),
            ("制定落实全面从严治党主体责任清单", "班子成员每半年报告一次“一岗双责”履行情况"),
        ),
        (
            "监督责任落实不力",
            "B02",
            "监督责任",
            ("纪检组织{y}年开展监督检查{n}次，发现问题{m}个均未跟踪问效",),
            ("制定日常监督工作计划", "建立问题整改跟踪问效机制"),
        ),
        (
            "公务接待管理不规范",
            "B03",
            "违反中央八项规定精神",
            ("抽查{n}批次公务接待，{m}批次无公函，{k}批次超标准",),
            ("修订公务接待管理办法", "对违规接待费用予以清退"),
        ),
        (
            "公务用车管理不严格",
            "B03",
            "违反中央八项规定精神",
            ("{n}辆公务用车未按规定登记使用，{m}次存在节假日用车",),
            ("完善公务用车使用登记制度", "安装公务用车定位系统"),
        ),
        (
            "违规发放津补贴",
            "B03",
            "违反中央八项规定精神",
            ("{y}年以来违规发放各类补贴{amount}万元，涉及{n}人",),
            ("全面清查津补贴发放情况", "违规发放资金全部追回"),
        ),
        (
            "文山会海问题依然存在",
            "B04",
            "形式主义官僚主义",
            ("{y}年印发文件{n}件、召开会议{m}次，同比分别增加{k}%",),
            ("严格控制发文数量和会议规模", "推行合并开会、套开会议"),
        ),
        (
            "工程项目管理不规范",
            "B05",
            "重点领域廉洁风险",
            (
                "{n}个工程项目未按规定进行招标，涉及金额{amount}万元",
                "{n}个项目存在先施工后办理审批手续问题",
                "{n}个项目变更签证未经集体研究，增加投资{amount}万元",
                "{n}个已完工项目未及时办理竣工结算，最长超期{m}个月",
                "{n}个项目监理日志缺失，隐蔽工程验收记录不全",
            ),
            ("全面排查在建和已完工工程项目", "修订工程项目管理办法", "对相关责任人进行约谈"),
        ),
        (
            "财务管理不规范",
            "B05",
            "重点领域廉洁风险",
            (
                "{n}笔支出报销凭证附件不全，涉及金额{amount}万元",
                "存在白条入账{n}笔，金额{amount}万元",
                "往来款项{n}笔长期挂账未清理，金额{amount}万元",
                "{n}笔大额资金支付未经集体研究",
                "固定资产账实不符，{n}项资产未入账",
            ),
            ("开展财务收支专项清查", "修订财务报销审批制度", "组织财务人员业务培训"),
        ),
        (
            "政府采购管理不规范",
            "B05",
            "重点领域廉洁风险",
            ("{n}批次采购化整为零规避公开招标，金额{amount}万元",),
            ("修订政府采购内部控制制度", "对拆分采购问题逐笔整改"),
        ),
        (
            "“三重一大”决策制度执行不严格",
            "B06",
            "三重一大",
            ("{n}项重大事项未经集体研究决定，涉及金额{amount}万元",),
            ("修订“三重一大”事项决策办法", "建立决策事项清单并定期公示"),
        ),
        (
            "内部控制制度不健全",
            "B06",
            "内控",
            ("{n}项业务流程无内控制度，{m}项制度多年未修订",),
            ("全面梳理内控制度并修订完善", "开展内控制度执行情况检查"),
        ),
        (
            "以案促改工作不深入",
            "B07",
            "以案促改",
            ("对{y}年发生的{n}起违纪案件未开展以案促改",),
            ("召开以案促改专题民主生活会", "针对案件暴露的问题完善制度"),
        ),
    ],
    "C": [
        (
            "民主集中制执行不到位",
            "C01",
            "班子建设",
            ("{y}年党组会议议题{n}个中{m}个为临时动议",),
            ("修订党组工作规则", "严格执行议题提前报送制度"),
        ),
        (
            "领导班子议事决策不规范",
            "C01",
            "民主集中制",
            ("班子会议记录不完整，{n}次会议未记录表决情况",),
            ("规范会议记录和表决程序", "对会议记录开展专项检查"),
        ),
        (
            "党内政治生活不严肃",
            "C02",
            "党内政治生活",
            ("民主生活会批评意见{n}条中{m}条为工作建议，辣味不足",),
            ("高质量召开专题民主生活会", "班子成员之间开展谈心谈话"),
        ),
        (
            "干部选拔任用程序不规范",
            "C03",
            "选人用人",
            ("{y}年以来提拔干部{n}人，{m}人动议环节无记录",),
            ("规范干部选拔任用纪实", "对近年选拔任用工作开展自查"),
        ),
        (
            "干部人事档案管理不规范",
            "C04",
            "干部管理监督",
            ("抽查干部人事档案{n}卷，{m}卷存在材料缺失或信息不一致",),
            ("开展干部人事档案专项审核", "补齐缺失档案材料"),
        ),
        (
            "干部日常管理监督不严",
            "C04",
            "干部管理监督",
            ("{n}名干部未按规定报告个人有关事项，{m}人存在漏报",),
            ("开展个人有关事项报告专项检查", "加强干部日常谈心谈话"),
        ),
        (
            "基层党组织建设薄弱",
            "C05",
            "基层党组织建设",
            ("{n}个党支部未按期换届，{m}个支部组织生活不正常",),
            ("督促党支部按期换届", "开展软弱涣散党组织整顿"),
        ),
        (
            "“三会一课”制度落实不严格",
            "C05",
            "基层党组织建设",
            ("{n}个支部{y}年党课少于规定次数，会议记录代记补记{m}次",),
            ("制定支部组织生活清单并按月督导", "将“三会一课”落实情况纳入述职评议"),
        ),
        (
            "党费收缴管理不规范",
            "C06",
            "党费",
            ("{n}名党员党费基数核定有误，少交党费{amount}万元",),
            ("重新核定党费缴纳基数", "补缴少交党费"),
        ),
        (
            "发展党员工作不规范",
            "C06",
            "党员教育",
            ("抽查发展党员档案{n}份，{m}份程序材料不全",),
            ("开展发展党员档案专项检查", "组织发展党员业务培训"),
        ),
        (
            "编外人员管理不规范",
            "C07",
            "编制人事",
            ("现有编外人员{n}人，{m}人未经审批招录",),
            ("清理规范编外用工", "建立编外人员审批备案制度"),
        ),
    ],
    "D": [
        (
            "上轮巡察反馈问题整改不彻底",
            "D01",
            "上轮整改不到位",
            ("上轮巡察反馈的{n}个问题中{m}个整改不到位",),
            ("对上轮巡察反馈问题逐项复核", "建立整改问题清单销号管理"),
        ),
        (
            "审计发现问题整改不到位",
            "D02",
            "审计等监督发现问题整改不到位",
            ("{y}年审计发现问题{n}个，{m}个未完成整改",),
            ("对审计发现问题建立整改台账", "对未整改问题明确时限挂牌督办"),
        ),
        (
            "整改成果运用不够",
            "D03",
            "成果运用",
            ("整改中仅新建制度{n}项，{m}项制度未落地执行",),
            ("对整改中建立的制度开展执行情况评估", "健全整改长效机制"),
        ),
        (
            "违规问题反弹回潮",
            "D04",
            "问题反弹回潮",
            ("上轮已整改的{n}类问题再次出现，涉及{m}个科室",),
            ("开展问题反弹专项排查", "对反弹问题从严追责"),
        ),
    ],
}
GENERIC_MEASURES = (
    "开展专项自查自纠",
    "建立健全长效机制",
    "组织开展警示教育",
    "对相关责任人进行批评教育",
    "举一反三，全面排查同类问题",
)
SAME_WORDING = "制定整改方案，明确责任分工和完成时限"
GENERIC_TITLES = ("工程项目管理不规范", "财务管理不规范")


# -- the plan ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """A measure as written into the ledger and as it must be read."""

    text: str  # written and expected (no numbering marker)
    status_cell: str  # as written in 整改状态 / 完成情况
    status: str  # expected canonical status
    deadline_cell: Any  # as written: text or a datetime cell
    kind: str  # expected deadline kind
    due: dt.date | None  # expected due date
    long_term: bool
    completed: dt.date | None = None  # expected 完成时间 (only forms with that column)
    completed_cell: Any = None  # as written
    lead: str = ""
    department: str = ""
    person: str = "—"


@dataclass(frozen=True)
class Problem:
    l1: str
    title: str  # written and expected
    detail_cell: str  # as written (may be a blank marker)
    detail: str | None  # expected
    l2: str  # the L2 code the 问题子类 names (only written in form b)
    l2_text: str
    measures: tuple[Measure, ...]
    write_l2: bool = False  # form b: whether the 问题子类 cell names the L2


@dataclass(frozen=True)
class Unit:
    name: str
    peer_group: str
    form: str  # a b c d e f1 f2 g h
    feedback: dt.date
    group_no: int  # 市委第X巡察组
    problems: tuple[Problem, ...]
    as_of: dt.date = AS_OF
    encoding: str = "utf-8-sig"  # form c
    base: str = ""  # the layout under f1 / h ("a", "b" or "g")
    path: Path | None = None

    @property
    def file_name(self) -> str:
        suffix = {"c": ".csv", "h": ".xls"}.get(self.form, ".xlsx")
        when = "" if self.as_of == AS_OF else f"（截至{self.as_of.year}年{self.as_of.month}月底）"
        return f"{self.name}巡察整改落实台账{when}{suffix}"

    @property
    def layout(self) -> str:
        return self.base or self.form

    def expected(self) -> list[tuple[Any, ...]]:
        """(title, detail, L1, L2, ((text, status, kind, due, long_term, completed), ...)) per
        problem in ledger order, from what the generator wrote."""
        out = []
        for p in self.problems:
            if self.layout == "e":
                l1, l2 = "Z", "Z99"
            else:
                l1, l2 = p.l1, (p.l2 if self.layout == "b" and p.write_l2 else None)
            measures = tuple(
                (m.text, m.status, m.kind, m.due, m.long_term, m.completed) for m in p.measures
            )
            out.append((p.title, p.detail, l1, l2, measures))
        return out

    def counts(self) -> tuple[int, int, int]:
        """(done, basically done, open) problems as planned (DOMAIN.md §5)."""
        done = basic = opened = 0
        for p in self.problems:
            statuses = {m.status for m in p.measures}
            if statuses == {"DONE"}:
                done += 1
            elif statuses <= {"DONE", "PHASED", "LONG_TERM"}:
                basic += 1
            else:
                opened += 1
        return done, basic, opened


@dataclass
class Round:
    units: list[Unit]
    progress: list[Unit] = field(default_factory=list)  # 截至 2025-03-31, for three units
    xls_converted: bool | None = None  # None until written
    xls_message: str = ""

    @property
    def all_ledgers(self) -> list[Unit]:
        return [*self.units, *self.progress]


# (name, peer group, form, base layout)
UNITS: list[tuple[str, str, str, str]] = [
    ("市财政局", "市直部门", "a", ""),
    ("市教育局", "市直部门", "a", ""),
    ("城关镇", "乡镇街道", "g", ""),
    ("东城街道", "乡镇街道", "b", ""),
    ("市城市建设投资集团有限公司", "国有企业", "c", ""),
    ("市第一人民医院", "学校医院", "d", ""),
    ("市民政局", "市直部门", "d", ""),
    ("市人社局", "市直部门", "d", ""),
    ("西城街道", "乡镇街道", "g", ""),
    ("市交通投资集团有限公司", "国有企业", "b", ""),
    ("市自然资源局", "市直部门", "f1", "a"),
    ("南湖街道", "乡镇街道", "c", ""),
    ("市第二中学", "学校医院", "e", ""),
    ("市水务集团有限公司", "国有企业", "c", ""),
    ("市生态环境局", "市直部门", "f2", ""),
    ("北山镇", "乡镇街道", "a", ""),
    ("市中医医院", "学校医院", "b", ""),
    ("市统计局", "市直部门", "h", "a"),
    ("青石镇", "乡镇街道", "d", ""),
    ("市公共交通集团有限公司", "国有企业", "g", ""),
    ("市交通运输局", "市直部门", "b", ""),
    ("白沙镇", "乡镇街道", "f1", "b"),
    ("市国有资本投资运营有限公司", "国有企业", "a", ""),
    ("市妇幼保健院", "学校医院", "c", ""),
    ("市水利局", "市直部门", "c", ""),
    ("河口镇", "乡镇街道", "f2", ""),
    ("市第一中学", "学校医院", "g", ""),
    ("市农业农村局", "市直部门", "e", ""),
    ("柳林乡", "乡镇街道", "h", "g"),
    ("市农业发展投资有限公司", "国有企业", "d", ""),
    ("市商务局", "市直部门", "f1", "a"),
    ("桃源乡", "乡镇街道", "b", ""),
    ("市文化旅游发展集团有限公司", "国有企业", "f2", ""),
    ("市文广旅局", "市直部门", "a", ""),
    ("新华街道", "乡镇街道", "c", ""),
    ("市实验中学", "学校医院", "d", ""),
    ("市市场监管局", "市直部门", "g", ""),
    ("长宁镇", "乡镇街道", "b", ""),
    ("市粮食储备有限公司", "国有企业", "a", ""),
    ("市医保局", "市直部门", "a", ""),
]
GBK_UNITS = ("市水务集团有限公司", "市妇幼保健院", "新华街道")

# Fixed 反馈日期 where a deadline counts working days, with the due date written by hand.
WORKDAY_UNITS: dict[str, tuple[dt.date, str, dt.date]] = {
    "市财政局": (D(2024, 4, 1), "10个工作日内", D(2024, 4, 16)),
    "市人社局": (D(2024, 4, 25), "反馈后15个工作日内", D(2024, 5, 17)),
    "西城街道": (D(2024, 4, 26), "10个工作日内", D(2024, 5, 13)),
}

# The nine problems not done as of 2024-12-31: (unit, [(status written, canonical, deadline
# key)]); "done" stands for a measure written with the unit's own done word.
NOT_DONE: list[tuple[str, str, list[tuple[str, str, str]]]] = [
    ("open", "市教育局", [("done", "DONE", ""), ("正在整改", "IN_PROGRESS", "2025年6月底前")]),
    ("open", "东城街道", [("done", "DONE", ""), ("正在整改", "IN_PROGRESS", "2024年底前")]),
    ("open", "市水务集团有限公司", [("done", "DONE", ""), ("超期", "NOT_DONE", "2024年9月底前")]),
    ("open", "市第一人民医院", [("未完成", "NOT_DONE", "2024年底前"), ("done", "DONE", "")]),
    ("open", "城关镇", [("done", "DONE", ""), ("持续推进", "IN_PROGRESS", "2025年6月底前")]),
    ("basic", "市教育局", [("done", "DONE", ""), ("基本完成", "PHASED", "2024年底前")]),
    (
        "basic",
        "市交通投资集团有限公司",
        [("done", "DONE", ""), ("长期坚持", "LONG_TERM", "长期坚持")],
    ),
    ("basic", "城关镇", [("基本完成", "PHASED", "2024年底前")]),
    (
        "basic",
        "市民政局",
        [("done", "DONE", ""), ("基本完成", "PHASED", "2024年6月底前完成，长期坚持")],
    ),
]
# The progress set: (unit, index into NOT_DONE that the 2025-03-31 ledger closes).
PROGRESS = [("市教育局", 0), ("东城街道", 1), ("市民政局", 8)]

DONE_WORDS = ("已完成", "已整改到位", "已销号", "已完成（已销号）", "整改完毕", "√")
# Each unit writes "done" in its own words.
VOCABULARIES = (
    ("已完成",),
    ("已完成", "已销号"),
    ("已整改到位",),
    ("已完成（已销号）",),
    ("整改完毕",),
    ("√",),
    ("已完成", "已整改到位"),
    ("已销号",),
)

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
LEADS = {
    "市直部门": ("局长", "副局长", "纪检组长"),
    "乡镇街道": ("书记", "副书记", "纪委书记", "副镇长"),
    "国有企业": ("董事长", "总经理", "副总经理", "纪委书记"),
    "学校医院": ("书记", "院长", "副院长", "副校长"),
}
DEPARTMENTS = {
    "市直部门": ("办公室", "财务科", "人事科", "机关党委", "法规科", "规划计划科"),
    "乡镇街道": ("党政办", "财政所", "党建办", "综治办", "经济发展办"),
    "国有企业": ("综合办公室", "财务部", "党群工作部", "工程管理部", "纪检监察室"),
    "学校医院": ("办公室", "财务科", "党委办公室", "总务科", "人事科"),
}


def _month_end(year: int, month: int) -> dt.date:
    if month == 12:
        return D(year, 12, 31)
    return D(year, month + 1, 1) - dt.timedelta(days=1)


def _plus_months(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    return D(day.year + index // 12, index % 12 + 1, day.day)  # days are ≤ 28 here


def _first_on_or_after(feedback: dt.date, month: int, day: int) -> dt.date:
    candidate = D(feedback.year, month, day)
    return candidate if candidate >= feedback else D(feedback.year + 1, month, day)


def _full_width(text: str) -> str:
    return text.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})


class _Planner:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def deadline(
        self, feedback: dt.date, form: str, *, done: bool
    ) -> tuple[Any, str, dt.date | None, bool]:
        """(cell as written, kind, due, long_term) of a randomly chosen written form."""
        rng = self.rng
        choices = ["month_end"] * 6 + ["year_end"] * 3 + ["months"] * 3 + ["dotted"] * 2
        choices += ["long", "long_dated"]
        if done:
            choices += ["immediate"] * 3
        if form in ("a", "d", "e", "f2", "g", "h", "f1"):
            choices += ["date_cell"] * 2
        if form != "b":  # in a numbered cell "2.3个月内" or "2.6月30日前" would be unclear
            choices += ["full_width"] + ["implied"] * 2
        pick = rng.choice(choices)
        later = rng.randint(1, 8)
        year, month = divmod(feedback.month - 1 + later, 12)
        year, month = feedback.year + year, month + 1
        if pick == "month_end":
            return f"{year}年{month}月底前", "DATE", _month_end(year, month), False
        if pick == "full_width":
            text = _full_width(f"{year}年{month}月底前")
            return text, "DATE", _month_end(year, month), False
        if pick == "year_end":
            return "2024年底前", "DATE", D(2024, 12, 31), False
        if pick == "months":
            n = rng.choice((1, 2, 3, 3, 6))
            text = (
                f"反馈后{n}个月内"
                if form == "b"
                else rng.choice((f"{n}个月内", f"反馈后{n}个月内"))
            )
            return text, "RELATIVE", _plus_months(feedback, n), False
        if pick == "dotted":
            return f"{year}.{month:02d}", "DATE", _month_end(year, month), False
        if pick == "implied":
            month, day = rng.choice(((6, 30), (9, 30), (12, 31)))
            return f"{month}月{day}日前", "DATE", _first_on_or_after(feedback, month, day), False
        if pick == "long":
            return "长期坚持", "LONG_TERM", None, True
        if pick == "long_dated":
            text = f"{year}年{month}月底前完成，长期坚持"
            return text, "DATE", _month_end(year, month), True
        if pick == "immediate":
            return "立行立改", "IMMEDIATE", feedback, False
        # a date cell (a CSV holds what Excel shows for one: 2024/6/30)
        day = D(year, month, rng.choice((10, 15, 20, 25, 28)))
        if form == "c":
            return f"{day.year}/{day.month}/{day.day}", "DATE", day, False
        return dt.datetime(day.year, day.month, day.day), "DATE", day, False

    def completed(self, feedback: dt.date, form: str) -> tuple[dt.date | None, Any]:
        """A 完成时间 on or before 2024-12-31, or none (only forms with that column)."""
        if form not in ("a", "d", "g") or self.rng.random() < 0.4:
            return None, None
        day = feedback + dt.timedelta(days=self.rng.randint(3, 200))
        day = min(day, D(2024, 12, 28))
        style = self.rng.random()
        if style < 0.6:
            return day, dt.datetime(day.year, day.month, day.day)
        if style < 0.85:
            return day, f"{day.year}年{day.month}月{day.day}日"
        return day, f"{day.year}.{day.month}.{day.day}"


def _problem_counts(rng: random.Random) -> list[int]:
    counts = [rng.randint(12, 23) for _ in UNITS]
    while sum(counts) != TOTAL_FINDINGS:
        k = rng.randrange(len(counts))
        if sum(counts) < TOTAL_FINDINGS and counts[k] < 24:
            counts[k] += 1
        elif sum(counts) > TOTAL_FINDINGS and counts[k] > 12:
            counts[k] -= 1
    return counts


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        y=rng.choice((2022, 2023)),
        n=rng.randint(3, 19),
        m=rng.randint(1, 3),
        k=rng.randint(1, 3),
        amount=f"{rng.randint(12, 980)}.{rng.randint(1, 9)}",
    )


def plan_round(seed: int = SEED) -> Round:
    """The whole round, decided before any file is written."""
    rng = random.Random(seed)
    planner = _Planner(rng)
    counts = _problem_counts(rng)
    units: list[Unit] = []
    wave_days = list(range(1, 29))
    for index, ((name, peer, form, base), count) in enumerate(zip(UNITS, counts, strict=True)):
        layout = base or form
        if name in WORKDAY_UNITS:
            feedback = WORKDAY_UNITS[name][0]
        else:
            feedback = D(2024, 4 if index < 20 else 7, rng.choice(wave_days))
        vocabulary = VOCABULARIES[index % len(VOCABULARIES)]
        if layout == "b" and "√" in vocabulary:
            vocabulary = ("已完成",)
        leads = [rng.choice(SURNAMES) + role for role in LEADS[peer]]
        departments = DEPARTMENTS[peer]

        def measure(
            text: str,
            status_cell: str | None = None,
            status: str = "DONE",
            deadline: tuple[Any, str, dt.date | None, bool] | None = None,
            *,
            layout: str = layout,
            feedback: dt.date = feedback,
            vocabulary: tuple[str, ...] = vocabulary,
            leads: list[str] = leads,
            departments: tuple[str, ...] = departments,
        ) -> Measure:
            done = status == "DONE"
            cell, kind, due, long_term = deadline or planner.deadline(feedback, layout, done=done)
            completed, completed_cell = (
                planner.completed(feedback, layout) if done else (None, None)
            )
            return Measure(
                text=text,
                status_cell=status_cell or rng.choice(vocabulary),
                status=status,
                deadline_cell=cell,
                kind=kind,
                due=due,
                long_term=long_term,
                completed=completed,
                completed_cell=completed_cell,
                lead=rng.choice(leads),
                department=rng.choice(departments),
                person=rng.choice((rng.choice(SURNAMES) + rng.choice("某明华军芳"), "—", "/")),
            )

        # categories: A 25%, B 40%, C 25%, D 10%, at least two B for the generic titles
        l1s = sorted([*rng.choices("ABCD", weights=(25, 40, 25, 10), k=count - 2), "B", "B"])
        generic = rng.choice(GENERIC_TITLES)
        problems: list[Problem] = []
        used_titles: dict[str, int] = {}
        for l1 in l1s:
            pool = TITLES[l1]
            if l1 == "B" and used_titles.get(generic, 0) < 2 + (count > 19):
                entry = next(t for t in pool if t[0] == generic)
            else:
                fresh = [t for t in pool if t[0] not in used_titles]
                entry = rng.choice(fresh or pool)
            title, l2, l2_text, details, own = entry
            used_titles[title] = used_titles.get(title, 0) + 1
            detail = _fill(details[(used_titles[title] - 1) % len(details)], rng)
            while any(p.title == title and p.detail == detail for p in problems):
                detail = _fill(details[0], rng)
            unique_title = used_titles[title] == 1 and title not in GENERIC_TITLES
            detail_cell, detail_expected = detail, detail
            if unique_title and rng.random() < 0.08:
                detail_cell, detail_expected = rng.choice(("/", "—", "无")), None
            if layout == "g" and rng.random() < 0.3:
                detail_cell = detail_expected = detail + "；\n经查，相关台账资料不完整"
            texts = rng.sample(list(own) + list(GENERIC_MEASURES), rng.choice((1, 2, 2, 2, 3)))
            if layout == "g" and rng.random() < 0.15:
                texts[0] = texts[0] + "，\n形成工作闭环"
            measures = [measure(t) for t in texts]
            problems.append(
                Problem(
                    l1=l1,
                    title=title,
                    detail_cell=detail_cell,
                    detail=detail_expected,
                    l2=l2,
                    l2_text=l2_text,
                    measures=tuple(measures),
                    write_l2=rng.random() < 0.7,
                )
            )
        # the same wording as 1st and 2nd measure of one problem (every few units)
        if index % 4 == 1 and layout != "b":
            k = rng.randrange(len(problems))
            p = problems[k]
            problems[k] = replace(
                p, measures=(measure(SAME_WORDING), measure(SAME_WORDING), *p.measures[:1])
            )
        # the working-day deadline, on a done measure
        if name in WORKDAY_UNITS:
            _, text, due = WORKDAY_UNITS[name]
            k = rng.randrange(len(problems))
            p = problems[k]
            first = replace(p.measures[0], deadline_cell=text, kind="RELATIVE", due=due)
            first = replace(first, long_term=False)
            problems[k] = replace(p, measures=(first, *p.measures[1:]))
        units.append(
            Unit(
                name=name,
                peer_group=peer,
                form=form,
                base=base,
                feedback=feedback,
                group_no=index % 5 + 1,
                problems=tuple(problems),
                encoding="gbk" if name in GBK_UNITS else "utf-8-sig",
            )
        )
    # the nine problems not done
    by_name = {u.name: i for i, u in enumerate(units)}
    taken: dict[str, set[int]] = {}
    targets: list[tuple[int, int]] = []
    for _, name, pattern in NOT_DONE:
        i = by_name[name]
        unit = units[i]
        free = [
            k
            for k, p in enumerate(unit.problems)
            if k not in taken.setdefault(name, set())
            and p.title not in GENERIC_TITLES
            and all(m.deadline_cell not in _workday_texts() for m in p.measures)
            and len({m.text for m in p.measures}) == len(p.measures)
        ]
        k = rng.choice(free)
        taken[name].add(k)
        p = unit.problems[k]
        own_texts = [m.text for m in p.measures]
        texts = own_texts + [t for t in GENERIC_MEASURES if t not in own_texts]
        measures = []
        for j, (written, status, deadline) in enumerate(pattern):
            text = texts[j] if j < len(texts) else GENERIC_MEASURES[j]
            if written == "done":
                base_measure = p.measures[j] if j < len(p.measures) else p.measures[0]
                measures.append(replace(base_measure, text=text))
                continue
            cell, kind, due, long_term = _named_deadline(deadline)
            measures.append(
                replace(
                    p.measures[0],
                    text=text,
                    status_cell=written,
                    status=status,
                    deadline_cell=cell,
                    kind=kind,
                    due=due,
                    long_term=long_term,
                    completed=None,
                    completed_cell=None,
                )
            )
        problems = list(unit.problems)
        problems[k] = replace(p, measures=tuple(measures))
        units[i] = replace(unit, problems=tuple(problems))
        targets.append((i, k))
    # the progress set (截至 2025-03-31): the same ledger, one problem closed
    progress = []
    for name, which in PROGRESS:
        i, k = targets[which]
        unit = units[i]
        p = unit.problems[k]
        closed = []
        for m in p.measures:
            if m.status == "DONE":
                closed.append(m)
                continue
            day = D(2025, rng.randint(1, 3), rng.randint(5, 28))
            has_column = unit.layout in ("a", "d", "g")
            closed.append(
                replace(
                    m,
                    status_cell=rng.choice(("已完成", "已整改到位")),
                    status="DONE",
                    completed=day if has_column else None,
                    completed_cell=dt.datetime(day.year, day.month, day.day)
                    if has_column
                    else None,
                )
            )
        problems = list(unit.problems)
        problems[k] = replace(p, measures=tuple(closed))
        assert unit.name == name
        progress.append(replace(unit, problems=tuple(problems), as_of=PROGRESS_AS_OF))
    result = Round(units=units, progress=progress)
    _check(result)
    return result


def _workday_texts() -> set[str]:
    return {text for _, text, _ in WORKDAY_UNITS.values()}


def _named_deadline(text: str) -> tuple[Any, str, dt.date | None, bool]:
    return {
        "2025年6月底前": ("2025年6月底前", "DATE", D(2025, 6, 30), False),
        "2024年底前": ("2024年底前", "DATE", D(2024, 12, 31), False),
        "2024年9月底前": ("2024年9月底前", "DATE", D(2024, 9, 30), False),
        "长期坚持": ("长期坚持", "LONG_TERM", None, True),
        "2024年6月底前完成，长期坚持": (
            "2024年6月底前完成，长期坚持",
            "DATE",
            D(2024, 6, 30),
            True,
        ),
    }[text]


def _check(plan: Round) -> None:
    """The plan holds the notice's numbers (a generator bug fails loudly, not a test)."""
    totals = [sum(x) for x in zip(*(u.counts() for u in plan.units), strict=True)]
    assert sum(totals) == TOTAL_FINDINGS, totals
    assert totals == [DONE_FINDINGS, BASICALLY_DONE_FINDINGS, OPEN_FINDINGS], totals
    by_name = {u.name: u for u in plan.units}
    for later in plan.progress:
        by_name[later.name] = later
    after = [sum(x) for x in zip(*(u.counts() for u in by_name.values()), strict=True)]
    assert after == [
        PROGRESS_DONE_FINDINGS,
        PROGRESS_BASICALLY_DONE_FINDINGS,
        PROGRESS_OPEN_FINDINGS,
    ], after
    for unit in plan.units:
        for p in unit.problems:
            for m in p.measures:
                assert m.completed is None or m.completed <= AS_OF
                assert m.status == "DONE" or m.completed is None


# -- writing -----------------------------------------------------------------------------

WRAP = Alignment(wrap_text=True, vertical="center")


def _title(unit: Unit) -> str:
    org = {"市直部门": "党组", "乡镇街道": "党委", "国有企业": "党委", "学校医院": "党委"}[
        unit.peer_group
    ]
    if unit.name.endswith("街道"):
        org = "党工委"
    place = "江城" + unit.name if unit.name.startswith("市") else unit.name
    group = CN_NUMERALS[unit.group_no - 1]
    return f"中共{place}{org}关于市委第{group}巡察组反馈意见整改落实台账"


def _fill_line(unit: Unit) -> str:
    d = unit.as_of
    return f"填报单位：{unit.name}\u3000截至时间：{d.year}年{d.month}月{d.day}日"


def _groups(unit: Unit) -> list[tuple[str, list[Problem]]]:
    out: list[tuple[str, list[Problem]]] = []
    for p in unit.problems:
        if not out or out[-1][0] != p.l1:
            out.append((p.l1, []))
        out[-1][1].append(p)
    return out


def _put(sheet: Worksheet, row: int, values: list[Any]) -> None:
    for col, value in enumerate(values, start=1):
        if value is None:
            continue
        cell = sheet.cell(row=row, column=col, value=value)
        cell.alignment = WRAP
        if isinstance(value, dt.datetime):
            cell.number_format = "yyyy-mm-dd"


def _merge_down(sheet: Worksheet, cols: list[int], top: int, bottom: int) -> None:
    if bottom > top:
        for col in cols:
            sheet.merge_cells(start_row=top, start_column=col, end_row=bottom, end_column=col)


def _heading(sheet: Worksheet, row: int, text: str, width: int, first_col: int = 1) -> None:
    sheet.cell(row=row, column=first_col, value=text)
    sheet.merge_cells(start_row=row, start_column=first_col, end_row=row, end_column=width)


def _top(sheet: Worksheet, unit: Unit, width: int) -> int:
    """Title and 填报 line; returns the next free row."""
    sheet.cell(row=1, column=1, value=_title(unit))
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet.cell(row=2, column=1, value=_fill_line(unit))
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    return 3


def write_a(sheet: Worksheet, unit: Unit) -> dict[tuple[int, int], int]:
    """Form a; returns the row of each (problem, measure)."""
    header = ["序号", "具体问题", "具体表现", "整改措施", "责任领导", "责任部门"]
    header += ["整改时限", "整改状态", "完成时间", "整改进展"]
    width = len(header)
    row = _top(sheet, unit, width)
    _put(sheet, row, header)
    row += 1
    where: dict[tuple[int, int], int] = {}
    index = 0
    for g, (l1, problems) in enumerate(_groups(unit)):
        _heading(sheet, row, f"{CN_NUMERALS[g]}、{L1_WORDING[l1]}", width)
        row += 1
        for seq, p in enumerate(problems, start=1):
            top = row
            for j, m in enumerate(p.measures):
                first = j == 0
                _put(
                    sheet,
                    row,
                    [
                        seq if first else None,
                        p.title if first else None,
                        p.detail_cell if first else None,
                        m.text,
                        m.lead if first else None,
                        m.department,
                        m.deadline_cell,
                        m.status_cell,
                        m.completed_cell,
                        "已按要求推进" if m.status != "DONE" else "/",
                    ],
                )
                where[(index, j)] = row
                row += 1
            _merge_down(sheet, [1, 2, 3, 5], top, row - 1)
            index += 1
    sheet.cell(row=row + 1, column=1, value="填报人：张某某\u3000联系电话：0571-88880000")
    return where


def write_b(sheet: Worksheet, unit: Unit) -> None:
    header = ["序号", "问题类别", "问题子类", "具体问题", "具体表现", "整改措施"]
    header += ["责任领导", "责任部门", "整改时限", "整改状态"]
    row = _top(sheet, unit, len(header))
    _put(sheet, row, header)
    row += 1

    def numbered(items: list[str]) -> str:
        if len(items) == 1:
            return items[0]
        return "\n".join(f"{k}.{item}" for k, item in enumerate(items, start=1))

    for seq, p in enumerate(unit.problems, start=1):
        ms = p.measures
        _put(
            sheet,
            row,
            [
                seq,
                L1_WORDING[p.l1],
                p.l2_text if p.write_l2 else "/",
                p.title,
                p.detail_cell,
                numbered([m.text for m in ms]),
                ms[0].lead,
                ms[0].department,
                numbered([str(m.deadline_cell) for m in ms]),
                numbered([m.status_cell for m in ms]),
            ],
        )
        row += 1


def csv_rows(unit: Unit) -> list[list[str]]:
    header = ["序号", "问题类别", "具体问题", "具体表现", "整改措施", "责任领导", "责任科室"]
    header += ["整改时限", "整改状态", "整改进展"]
    rows = [[_title(unit)], [_fill_line(unit)], header]
    for seq, p in enumerate(unit.problems, start=1):
        for j, m in enumerate(p.measures):
            first = j == 0
            rows.append(
                [
                    str(seq) if first else "",
                    L1_WORDING[p.l1] if first else "",
                    p.title if first else "",
                    p.detail_cell if first else "",
                    m.text,
                    m.lead if first else "",
                    m.department,
                    str(m.deadline_cell),
                    m.status_cell,
                    "" if m.status == "DONE" else "正在推进中",
                ]
            )
    rows.append(["填报人：李某\u3000联系电话：0571-66660000"])
    width = len(header)
    return [r + [""] * (width - len(r)) for r in rows]


def write_d(sheet: Worksheet, unit: Unit) -> None:
    header = ["序号", "具体问题", "具体表现", "整改措施", "责任领导", "责任部门", "责任人"]
    header += ["整改时限", "整改状态", "完成时间", "佐证材料"]
    width = len(header)
    row = _top(sheet, unit, width)
    _put(sheet, row, header)
    row += 1
    seq = 0
    for g, (l1, problems) in enumerate(_groups(unit)):
        sheet.cell(row=row, column=1, value=f"{CN_NUMERALS[g]}、")
        _heading(sheet, row, L1_WORDING[l1], width, first_col=2)
        row += 1
        for p in problems:
            seq += 1
            top = row
            for j, m in enumerate(p.measures):
                first = j == 0
                _put(
                    sheet,
                    row,
                    [
                        seq if first else None,
                        p.title if first else None,
                        p.detail_cell if first else None,
                        m.text,
                        m.lead if first else None,
                        m.department,
                        m.person,
                        m.deadline_cell,
                        m.status_cell,
                        m.completed_cell,
                        "相关制度文件" if m.status == "DONE" else "无",
                    ],
                )
                row += 1
            _merge_down(sheet, [1, 2, 3, 5], top, row - 1)


def write_e(sheet: Worksheet, unit: Unit) -> None:
    header = ["序号", "具体问题", "具体表现", "整改措施", "责任部门", "整改时限", "整改状态"]
    row = _top(sheet, unit, len(header))
    _put(sheet, row, header)
    row += 1
    for seq, p in enumerate(unit.problems, start=1):
        top = row
        for j, m in enumerate(p.measures):
            first = j == 0
            _put(
                sheet,
                row,
                [
                    seq if first else None,
                    p.title if first else None,
                    p.detail_cell if first else None,
                    m.text,
                    m.department,
                    m.deadline_cell,
                    m.status_cell,
                ],
            )
            row += 1
        _merge_down(sheet, [1, 2, 3], top, row - 1)


def write_cover(sheet: Worksheet, unit: Unit) -> None:
    sheet.title = "说明"
    lines = [
        "填报说明",
        f"1．本表由{unit.name}填写，每季度末报送市委巡察办。",
        "2．整改状态填写“已完成”“正在整改”“未完成”，完成的须附佐证材料。",
        "3．整改时限按整改方案填写，不得擅自调整。",
        "联系人：巡察办\u3000电话：0571-87000000",
    ]
    for r, text in enumerate(lines, start=1):
        sheet.cell(row=r, column=1, value=text)


def write_f2(book: openpyxl.Workbook, unit: Unit) -> None:
    problems = book.active
    assert problems is not None
    problems.title = "问题清单"
    row = _top(problems, unit, 4)
    _put(problems, row, ["序号", "问题类别", "具体问题", "具体表现"])
    for seq, p in enumerate(unit.problems, start=1):
        _put(problems, row + seq, [seq, L1_WORDING[p.l1], p.title, p.detail_cell])
    tasks = book.create_sheet("任务清单")
    row = _top(tasks, unit, 5)
    _put(tasks, row, ["序号", "整改措施", "责任单位", "整改时限", "整改状态"])
    row += 1
    for seq, p in enumerate(unit.problems, start=1):
        for m in p.measures:
            _put(tasks, row, [seq, m.text, m.department, m.deadline_cell, m.status_cell])
            row += 1


def write_g(sheet: Worksheet, unit: Unit, rng: random.Random) -> None:
    width = 10
    sheet.cell(row=1, column=1, value=_title(unit))
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet.cell(row=2, column=1, value=_fill_line(unit))
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    # two header rows: 整改情况 over 整改措施 / 完成时限 / 完成情况
    _put(sheet, 3, ["序号", "具体问题", "具体表现", "整改情况", None, None])
    _put(sheet, 3, [None] * 6 + ["责任领导", "责任部门", "完成时间", "备注"])
    sheet.merge_cells(start_row=3, start_column=4, end_row=3, end_column=6)
    _put(sheet, 4, [None, None, None, "整改措施", "完成时限", "完成情况"])
    for col in (1, 2, 3, 7, 8, 9, 10):
        sheet.merge_cells(start_row=3, start_column=col, end_row=4, end_column=col)
    row = 5
    total_measures = 0
    hidden_problem = rng.randrange(len(unit.problems))
    index = 0
    for g, (l1, problems) in enumerate(_groups(unit)):
        _heading(sheet, row, f"{CN_NUMERALS[g]}、{L1_WORDING[l1]}", width)
        row += 1
        for seq, p in enumerate(problems, start=1):
            top = row
            for j, m in enumerate(p.measures):
                first = j == 0
                _put(
                    sheet,
                    row,
                    [
                        seq if first else None,
                        p.title if first else None,
                        p.detail_cell if first else None,
                        m.text,
                        m.deadline_cell,
                        m.status_cell,
                        m.lead if first else None,
                        m.department,
                        m.completed_cell,
                        "已报巡察办备案" if m.completed_cell is not None else "/",
                    ],
                )
                if index == hidden_problem or (j == 1 and index % 3 == 0):
                    sheet.row_dimensions[row].hidden = True
                row += 1
                total_measures += 1
            _merge_down(sheet, [1, 2, 3, 7], top, row - 1)
            index += 1
        done = sum(all(m.status == "DONE" for m in p.measures) for p in problems)
        _heading(sheet, row, f"小计：本方面问题{len(problems)}个，已完成{done}个", width)
        row += 2  # a blank spacer row
    sheet.cell(row=row, column=1, value="合计")
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=3)
    sheet.cell(row=row, column=4, value=f"共{len(unit.problems)}个问题、{total_measures}条整改措施")


def write_unit(unit: Unit, path: Path, seed: int = SEED) -> Path:
    """Write one unit's ledger in its form (form h: the .xlsx to be converted)."""
    if unit.layout == "c":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(csv_rows(unit))
        path.write_bytes(buffer.getvalue().encode(unit.encoding))
        return path
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    if unit.form == "f1":
        write_cover(sheet, unit)
        sheet = book.create_sheet("整改台账")
    else:
        sheet.title = "整改台账"
    layout = unit.layout
    if layout == "a":
        write_a(sheet, unit)
    elif layout == "b":
        write_b(sheet, unit)
    elif layout == "d":
        write_d(sheet, unit)
    elif layout == "e":
        write_e(sheet, unit)
    elif layout == "f2":
        write_f2(book, unit)
    elif layout == "g":
        write_g(sheet, unit, random.Random(f"{seed}-{unit.name}"))
    else:
        raise ValueError(layout)
    book.save(path)
    return path


SOFFICE_PROFILE = "file:///tmp/xuncha-soffice-round"


def write_round(folder: Path, plan: Round | None = None) -> Round:
    """Write every ledger of the round (and the progress set) into `folder`; the .xls files
    come from ONE soffice call. Returns the plan with each unit's path set."""
    plan = plan or plan_round()
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / "xls-src"
    staging.mkdir(exist_ok=True)
    units: list[Unit] = []
    to_convert: list[tuple[int, Path]] = []
    for unit in plan.units:
        if unit.form == "h":
            source = write_unit(unit, staging / Path(unit.file_name).with_suffix(".xlsx").name)
            to_convert.append((len(units), source))
            units.append(unit)
        else:
            units.append(replace(unit, path=write_unit(unit, folder / unit.file_name)))
    converted, message = _convert_to_xls([p for _, p in to_convert], folder)
    for k, source in to_convert:
        if converted:
            units[k] = replace(units[k], path=folder / source.with_suffix(".xls").name)
        else:  # keep .xlsx, as the issue allows; said in `xls_message`
            kept = folder / source.name
            shutil.copyfile(source, kept)
            units[k] = replace(units[k], path=kept)
    progress = [replace(u, path=write_unit(u, folder / u.file_name)) for u in plan.progress]
    return Round(units=units, progress=progress, xls_converted=converted, xls_message=message)


def _convert_to_xls(sources: list[Path], folder: Path) -> tuple[bool, str]:
    soffice = shutil.which("soffice")
    if soffice is None:
        return False, "soffice not found; the two legacy ledgers are kept as .xlsx"
    command = [
        soffice,
        "--headless",
        f"-env:UserInstallation={SOFFICE_PROFILE}",
        "--convert-to",
        "xls",
        "--outdir",
        str(folder),
        *map(str, sources),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"soffice failed ({exc}); kept as .xlsx"
    missing = [s.name for s in sources if not (folder / s.with_suffix(".xls").name).is_file()]
    if done.returncode != 0 or missing:
        return False, f"soffice exit {done.returncode}, missing {missing}: {done.stderr[-300:]}"
    return True, "converted with soffice"


# -- truly ambiguous values --------------------------------------------------------------

# case → (column, value written, read with a 反馈日期?)
AMBIGUOUS = {
    "尽快": ("deadline", "尽快", True),
    "部分完成？": ("status", "部分完成？", True),
    "6月30日前": ("deadline", "6月30日前", False),
}
AMBIGUOUS_FILES = {"尽快": "时限", "部分完成？": "状态", "6月30日前": "无反馈日期"}
A_COLUMNS = {"deadline": ("G", "整改时限"), "status": ("H", "整改状态")}


def ambiguous_ledger(folder: Path, case: str) -> tuple[Unit, Path, int, str, str]:
    """A small form-a ledger of 市财政局 whose 2nd problem's 1st measure carries the ambiguous
    value; returns (unit, path, its row, its column letter, its header)."""
    plan = plan_round()
    base = plan.units[0]
    problems = [p for p in base.problems if p.title not in GENERIC_TITLES][:3]
    unit = replace(base, problems=tuple(problems))
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "整改台账"
    where = write_a(sheet, unit)
    column, value, _ = AMBIGUOUS[case]
    letter, header = A_COLUMNS[column]
    row = where[(1, 0)]
    sheet[f"{letter}{row}"] = value
    path = folder / f"含糊的台账（{AMBIGUOUS_FILES[case]}）.xlsx"
    book.save(path)
    return unit, path, row, letter, header

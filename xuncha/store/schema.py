"""The schema of the store: tables, Chinese comments, migrations and the derived tables.

Base tables hold what the ledgers say. Derived tables (`*_timeline`, `finding_repeats`) are
rebuilt from them whenever a batch is applied, so pages filter small, pre-joined rows instead
of re-aggregating every measure on each click, and every figure can be asked "as of" a date.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from xuncha.store import categories, sql

SCHEMA_VERSION = 6

MEASURE_STATUSES = ("DONE", "PHASED", "IN_PROGRESS", "NOT_DONE", "LONG_TERM")
DEADLINE_KINDS = ("IMMEDIATE", "DATE", "RELATIVE", "LONG_TERM")
ROUND_KINDS = ("常规", "专项", "回头看", "机动", "提级", "交叉")
PEER_GROUPS = ("市直部门", "乡镇街道", "国有企业", "学校医院", "村社区")
ROUTINGS = ("移送纪委监委", "移交组织部", "交办被巡察单位")
DISPOSALS = ("谈话函询", "初步核实", "暂存待查", "予以了结")
FORMS = ("第一种形态", "第二种形态", "第三种形态", "第四种形态")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


# Each table: (name, Chinese comment, DDL body, {column: Chinese comment}).
TABLES: list[tuple[str, str, str, dict[str, str]]] = [
    (
        "store_meta",
        "库信息：数据版本、构建时间等键值",
        "key VARCHAR PRIMARY KEY, value VARCHAR",
        {"key": "键", "value": "值"},
    ),
    (
        "schema_migrations",
        "已执行的结构迁移",
        "version INTEGER PRIMARY KEY, description VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL",
        {"version": "结构版本号", "description": "迁移说明", "applied_at": "执行时间"},
    ),
    (
        "category_l1",
        "问题类别一级（四个落实）",
        "code VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, ledger_label VARCHAR NOT NULL",
        {"code": "一级类别代码（A–D、Z）", "name": "一级类别名称", "ledger_label": "台账常见写法"},
    ),
    (
        "category_l2",
        "问题类别二级",
        "code VARCHAR PRIMARY KEY, category_l1 VARCHAR NOT NULL REFERENCES category_l1(code),"
        " name VARCHAR NOT NULL",
        {
            "code": "二级类别代码（如 B03）",
            "category_l1": "所属一级类别代码",
            "name": "二级类别名称",
        },
    ),
    (
        "category_aliases",
        "台账中的类别写法与一级类别的对应（含旧“三个聚焦”口径）",
        "alias VARCHAR PRIMARY KEY, framework VARCHAR NOT NULL,"
        " category_l1 VARCHAR NOT NULL REFERENCES category_l1(code)",
        {
            "alias": "台账写法",
            "framework": "所属框架（四个落实/三个聚焦）",
            "category_l1": "对应一级类别代码",
        },
    ),
    (
        "tag_dictionary",
        "问题标签字典（六项纪律、四风、选人用人、重点关注）",
        "tag VARCHAR PRIMARY KEY, tag_group VARCHAR NOT NULL",
        {"tag": "标签", "tag_group": "标签组"},
    ),
    (
        "rounds",
        "巡察轮次，每轮一行",
        "round_id INTEGER PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, term VARCHAR, seq INTEGER NOT NULL"
        f" UNIQUE, kind VARCHAR NOT NULL CHECK (kind IN ({_in(ROUND_KINDS)})), start_date DATE,"
        " end_date DATE",
        {
            "round_id": "轮次编号",
            "name": "轮次名称（如 市委第三轮巡察）",
            "term": "届次（如 十四届）",
            "seq": "轮次顺序（越大越晚）",
            "kind": "轮次类型：常规/专项/回头看/机动/提级/交叉",
            "start_date": "开始日期",
            "end_date": "结束日期",
        },
    ),
    (
        "units",
        "被巡察单位（党组织），每单位一行",
        "unit_id INTEGER PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, short_name VARCHAR NOT NULL,"
        f" sector VARCHAR NOT NULL, peer_group VARCHAR NOT NULL CHECK (peer_group IN ({_in(PEER_GROUPS)}))",
        {
            "unit_id": "单位编号",
            "name": "单位全称",
            "short_name": "单位简称",
            "sector": "行业领域（住建、卫健、教育……）",
            "peer_group": "同类组：市直部门/乡镇街道/国有企业/学校医院/村社区",
        },
    ),
    (
        "inspections",
        "对某单位的一次巡察，每（轮次，单位）一行",
        "inspection_id INTEGER PRIMARY KEY, round_id INTEGER NOT NULL REFERENCES rounds(round_id),"
        " unit_id INTEGER NOT NULL REFERENCES units(unit_id), group_name VARCHAR, entry_start DATE,"
        " entry_end DATE, feedback_date DATE NOT NULL, UNIQUE (round_id, unit_id)",
        {
            "inspection_id": "巡察编号",
            "round_id": "轮次编号",
            "unit_id": "被巡察单位编号",
            "group_name": "巡察组（如 市委第三巡察组）",
            "entry_start": "进驻开始日期",
            "entry_end": "进驻结束日期",
            "feedback_date": "反馈日期",
        },
    ),
    (
        "findings",
        "巡察发现的问题，每个问题一行",
        "finding_id INTEGER PRIMARY KEY, inspection_id INTEGER NOT NULL REFERENCES"
        " inspections(inspection_id), round_id INTEGER NOT NULL, unit_id INTEGER NOT NULL,"
        " category_l1 VARCHAR NOT NULL REFERENCES category_l1(code), category_l2 VARCHAR REFERENCES"
        " category_l2(code), tags VARCHAR[] NOT NULL DEFAULT [], title VARCHAR NOT NULL, detail"
        " VARCHAR, severity VARCHAR CHECK (severity IN ('一般', '较重', '严重')), person_level VARCHAR"
        " CHECK (person_level IN ('一把手', '班子成员', '中层', '一般干部')), amount_wan DECIMAL(14, 2),"
        " immediate BOOLEAN NOT NULL DEFAULT false, source_category_text VARCHAR",
        {
            "finding_id": "问题编号",
            "inspection_id": "所属巡察编号",
            "round_id": "轮次编号（冗余，便于筛选）",
            "unit_id": "被巡察单位编号（冗余，便于筛选）",
            "category_l1": "一级类别代码（A–D、Z）",
            "category_l2": "二级类别代码",
            "tags": "标签（六项纪律、四风、选人用人、重点关注，可多个）",
            "title": "具体问题",
            "detail": "具体表现",
            "severity": "严重程度：一般/较重/严重",
            "person_level": "涉及人员层级：一把手/班子成员/中层/一般干部",
            "amount_wan": "涉及金额（万元）",
            "immediate": "是否立行立改",
            "source_category_text": "台账原文中的问题类别",
        },
    ),
    (
        "measures",
        "整改措施，每条措施一行；一个问题可有多条措施",
        "measure_id INTEGER PRIMARY KEY, finding_id INTEGER NOT NULL REFERENCES findings(finding_id),"
        " text VARCHAR NOT NULL, lead_person VARCHAR, department VARCHAR, person VARCHAR,"
        f" deadline_kind VARCHAR NOT NULL CHECK (deadline_kind IN ({_in(DEADLINE_KINDS)})),"
        " deadline_text VARCHAR, deadline_original DATE, deadline_current DATE, long_term BOOLEAN"
        f" NOT NULL DEFAULT false, status VARCHAR NOT NULL CHECK (status IN ({_in(MEASURE_STATUSES)})),"
        " status_text VARCHAR, completed_on DATE, closed_on DATE, evidence VARCHAR, progress VARCHAR",
        {
            "measure_id": "措施编号",
            "finding_id": "所属问题编号",
            "text": "整改措施",
            "lead_person": "责任领导",
            "department": "责任部门",
            "person": "责任人",
            "deadline_kind": "时限类型：IMMEDIATE 立行立改/DATE 具体日期/RELATIVE 反馈后若干月/LONG_TERM 长期坚持",
            "deadline_text": "台账原文中的整改时限",
            "deadline_original": "原定整改时限（日期）",
            "deadline_current": "现行整改时限（延期后的日期）",
            "long_term": "是否同时要求长期坚持",
            "status": "当前状态：DONE 已完成/PHASED 基本完成/IN_PROGRESS 正在整改/NOT_DONE 未完成/LONG_TERM 长期坚持",
            "status_text": "台账原文中的整改状态",
            "completed_on": "完成日期",
            "closed_on": "销号日期",
            "evidence": "佐证材料",
            "progress": "整改进展（原文）",
        },
    ),
    (
        "measure_status_history",
        "措施状态变更记录，每次变更一行；按日期回溯任一时点的状态",
        "history_id BIGINT PRIMARY KEY, measure_id INTEGER NOT NULL REFERENCES measures(measure_id),"
        f" status VARCHAR NOT NULL CHECK (status IN ({_in(MEASURE_STATUSES)})), status_date DATE NOT"
        " NULL, batch_id INTEGER NOT NULL",
        {
            "history_id": "记录编号（越大越晚记录）",
            "measure_id": "措施编号",
            "status": "状态",
            "status_date": "状态生效日期（台账截至时间）",
            "batch_id": "导入批次编号",
        },
    ),
    (
        "measure_deadline_history",
        "措施整改时限变更记录（含延期），每次变更一行",
        "history_id BIGINT PRIMARY KEY, measure_id INTEGER NOT NULL REFERENCES measures(measure_id),"
        " deadline DATE, deadline_text VARCHAR, effective_date DATE NOT NULL, batch_id INTEGER NOT NULL,"
        " reason VARCHAR",
        {
            "history_id": "记录编号",
            "measure_id": "措施编号",
            "deadline": "整改时限（日期；长期坚持为空）",
            "deadline_text": "时限原文",
            "effective_date": "生效日期",
            "batch_id": "导入批次编号",
            "reason": "变更原因（如 申请延期）",
        },
    ),
    (
        "clues",
        "问题线索，每条线索一行",
        "clue_id INTEGER PRIMARY KEY, inspection_id INTEGER NOT NULL REFERENCES"
        f" inspections(inspection_id), routing VARCHAR NOT NULL CHECK (routing IN ({_in(ROUTINGS)})),"
        f" disposal VARCHAR CHECK (disposal IN ({_in(DISPOSALS)})), form VARCHAR CHECK (form IN"
        f" ({_in(FORMS)})), persons INTEGER NOT NULL DEFAULT 1, closed_on DATE",
        {
            "clue_id": "线索编号",
            "inspection_id": "所属巡察编号",
            "routing": "移交去向：移送纪委监委/移交组织部/交办被巡察单位",
            "disposal": "处置方式：谈话函询/初步核实/暂存待查/予以了结",
            "form": "运用“四种形态”处理的形态",
            "persons": "涉及人数",
            "closed_on": "办结日期",
        },
    ),
    (
        "outcomes",
        "巡察成效，每次巡察一行",
        "inspection_id INTEGER PRIMARY KEY REFERENCES inspections(inspection_id), regulations INTEGER"
        " NOT NULL DEFAULT 0, funds_wan DECIMAL(14, 2) NOT NULL DEFAULT 0, persons_accountable INTEGER"
        " NOT NULL DEFAULT 0",
        {
            "inspection_id": "巡察编号",
            "regulations": "建章立制数（新建或修订制度）",
            "funds_wan": "清退、追缴、挽回资金（万元）",
            "persons_accountable": "问责人数",
        },
    ),
    (
        "import_batches",
        "导入批次，每次导入或生成一行",
        "batch_id INTEGER PRIMARY KEY, kind VARCHAR NOT NULL, file_name VARCHAR, file_sha256 VARCHAR,"
        " user_name VARCHAR, created_at TIMESTAMP NOT NULL, round_id INTEGER, unit_id INTEGER, as_of"
        " DATE, rows_read INTEGER, findings_added INTEGER, findings_updated INTEGER, measures_added"
        " INTEGER, measures_updated INTEGER, status VARCHAR NOT NULL DEFAULT 'applied', note VARCHAR",
        {
            "batch_id": "批次编号",
            "kind": "类型：demo 演示数据/ledger 台账导入/rollback 回滚",
            "file_name": "文件名",
            "file_sha256": "文件 SHA-256",
            "user_name": "操作人",
            "created_at": "导入时间",
            "round_id": "轮次编号",
            "unit_id": "单位编号",
            "as_of": "台账截至时间",
            "rows_read": "读取行数",
            "findings_added": "新增问题数",
            "findings_updated": "更新问题数",
            "measures_added": "新增措施数",
            "measures_updated": "更新措施数",
            "status": "批次状态：applied 已生效/rolled_back 已回滚",
            "note": "备注",
        },
    ),
]

# Derived tables, rebuilt by refresh_derived(); documented like the others.
DERIVED_COMMENTS: dict[str, tuple[str, dict[str, str]]] = {
    "measure_timeline": (
        "（派生）措施状态时间线：每条措施每个状态区间一行，valid_from ≤ 日期 < valid_to 时有效",
        {
            "measure_id": "措施编号",
            "finding_id": "问题编号",
            "inspection_id": "巡察编号",
            "round_id": "轮次编号",
            "unit_id": "单位编号",
            "category_l1": "一级类别代码",
            "category_l2": "二级类别代码",
            "feedback_date": "反馈日期",
            "valid_from": "区间开始日期（含）",
            "valid_to": "区间结束日期（不含；空表示至今）",
            "status": "区间内的措施状态",
            "deadline": "区间内的现行整改时限",
            "deadline_original": "原定整改时限",
            "completed_on": "完成日期（状态为 DONE 时）",
            "on_time_original": "是否在原定时限内完成（完成时确定，此后不变）",
            "on_time_current": "是否在完成时的现行时限内完成",
        },
    ),
    "finding_timeline": (
        "（派生）问题状态时间线：每个问题每个状态区间一行；问题状态由其全部措施推出",
        {
            "finding_id": "问题编号",
            "inspection_id": "巡察编号",
            "round_id": "轮次编号",
            "unit_id": "单位编号",
            "category_l1": "一级类别代码",
            "category_l2": "二级类别代码",
            "feedback_date": "反馈日期",
            "valid_from": "区间开始日期（含）",
            "valid_to": "区间结束日期（不含；空表示至今）",
            "status": "问题状态：DONE 完成（全部措施已完成）/BASICALLY_DONE 基本完成/OPEN 未完成",
            "measures": "措施数",
            "measures_done": "已完成措施数",
            "earliest_open_deadline": "未完成措施中最早的现行时限",
            "done_on": "完成日期（最后一条措施的完成日期）",
            "is_repeat": "是否重复问题（同单位此前轮次发现过同一二级类别）",
            "is_rebound": "是否反弹（此前同类问题在本次反馈时已完成整改）",
        },
    ),
    "inspection_settled": (
        "（派生）各巡察整改状态的起止：每个巡察一行。统计截至日期早于 started_on 时该巡察尚无问题，"
        "不早于 settled_on 时其状态即现状（rect_current 等汇总），其间按时间线计算",
        {
            "inspection_id": "巡察编号",
            "started_on": "该巡察问题或措施最早的区间开始日期（空表示没有问题）",
            "settled_on": "该巡察问题或措施最后一次状态或时限变动的日期（此后不再变化）",
        },
    ),
    "inspection_latest": (
        "（派生）各巡察最近一次有日期的记录：每个巡察一行，页面顶部“数据更新至”按读者范围取其最大值",
        {
            "inspection_id": "巡察编号",
            "data_through": "该巡察最近的措施状态记录、在线整改步骤或反馈日期",
        },
    ),
    "rect_current": (
        "（派生）整改现状汇总：每个巡察每个二级类别一行，统计截至日期不早于 settled_on 时的"
        "问题和措施计数（与时间线逐行统计的结果相同，供页面快速读取）",
        {
            "inspection_id": "巡察编号",
            "category_l1": "一级类别代码",
            "category_l2": "二级类别代码",
            "findings": "问题数",
            "findings_done": "已完成问题数",
            "findings_basically_done": "基本完成问题数",
            "findings_open": "未完成问题数",
            "repeat_findings": "重复问题数",
            "rebound_findings": "反弹问题数",
            "focus_findings": "带“重点关注”组标签的问题数",
            "four_winds_findings": "带“四风”组标签的问题数",
            "personnel_findings": "带“选人用人”组标签的问题数",
            "measures": "措施数",
            "measures_done": "已完成措施数",
            "measures_phased": "阶段性完成措施数",
            "measures_in_progress": "正在整改措施数",
            "measures_not_done": "未整改措施数",
            "measures_long_term": "长期坚持措施数（未完成且无具体时限或状态为长期坚持）",
            "completed_with_deadline": "有原定时限的已完成措施数",
            "on_time_original": "按原定时限完成的措施数",
            "completed_with_current_deadline": "完成时有现行时限的已完成措施数",
            "on_time_current": "按完成时现行时限完成的措施数",
            "last_deadline_original": "措施原定整改时限中最晚的日期（用于整改期）",
            "settled_on": "该巡察整改状态最后一次变动的日期：统计截至日期不早于此日期时本行即为当时状态",
        },
    ),
    "rect_current_inspection": (
        "（派生）整改现状汇总（不分类别）：每个巡察一行，列同 rect_current（各类别相加），"
        "未选类别时页面读取此表",
        {"inspection_id": "巡察编号"},
    ),
    "rect_current_dates": (
        "（派生）整改现状中与日期有关的部分：未完成措施按现行时限、问题按最早未完成时限计数，"
        "用于按统计截至日期计算逾期",
        {
            "inspection_id": "巡察编号",
            "category_l1": "一级类别代码",
            "category_l2": "二级类别代码",
            "d": "日期（措施的现行时限或问题最早的未完成时限）",
            "open_measures": "现行时限为该日期的未完成措施数",
            "findings_earliest": "最早未完成时限为该日期的问题数",
            "settled_on": "该巡察整改状态最后一次变动的日期",
        },
    ),
    "rect_current_done": (
        "（派生）已完成问题的整改周期：每个已完成且有完成日期的问题一行（按巡察排序的窄表），用于求中位数",
        {
            "inspection_id": "巡察编号",
            "category_l1": "一级类别代码",
            "category_l2": "二级类别代码",
            "days": "整改周期（反馈日期至完成日期的天数）",
            "settled_on": "该巡察整改状态最后一次变动的日期",
        },
    ),
    "rect_current_measures": (
        "（派生）措施现状中需要列出的部分：每条未完成或整改时限有过变动的措施一行（时间线中至今仍有效的区间），"
        "用于督办清单、长期坚持措施和延期措施",
        {
            # the keys as measure_timeline describes them: added below
            "status": "措施现状",
            "deadline": "现行整改时限",
            "deadline_original": "原定整改时限",
            "settled_on": "该巡察整改状态最后一次变动的日期",
        },
    ),
    "rect_current_groups": (
        "（派生）整改现状按分组汇总（全部巡察、不分类别）：每种分组方式（all、round、unit、round_unit、"
        "sector、peer_group）每组一行，含整改周期中位数；与日期有关的计数见 rect_current_group_dates",
        {
            "grouping": "分组方式",
            "group_id": "组的稳定编号（轮次编号、单位编号、轮次/单位……）",
            "group_key": "组名（轮次名称、单位简称……；all 为“全部”）",
            "group_order": "显示顺序（轮次序号；其他分组为空）",
            "units": "有问题的单位数",
            "inspections": "有问题的巡察次数",
            "cycle_days_median": "已完成问题整改周期中位数（天）",
        },
    ),
    "rect_current_group_dates": (
        "（派生）整改现状中与日期有关的部分按分组汇总：每种分组方式每组每个日期一行",
        {
            "grouping": "分组方式",
            "group_id": "组的稳定编号",
            # d, open_measures, findings_earliest as rect_current_dates: added below
        },
    ),
    "finding_repeats": (
        "（派生）重复问题：每个问题一行，列出同单位此前轮次的同类问题",
        {
            "finding_id": "问题编号",
            "is_repeat": "是否重复问题",
            "is_rebound": "是否反弹（屡改屡犯）",
            "earlier_finding_ids": "此前同类问题编号",
            "earlier_round_ids": "此前发现同类问题的轮次编号",
        },
    ),
}

# rect_current_groups has rect_current's counts too, less the tag-group ones.
_NOT_GROUPED = {
    "inspection_id",
    "focus_findings",
    "four_winds_findings",
    "personnel_findings",
    "last_deadline_original",
    "settled_on",
}
DERIVED_COMMENTS["rect_current_groups"][1].update(
    {
        k: v
        for k, v in DERIVED_COMMENTS["rect_current"][1].items()
        if not k.startswith("category") and k not in _NOT_GROUPED
    }
)
# rect_current_measures' keys are measure_timeline's; rect_current_group_dates' dated counts
# are rect_current_dates'.
_MEASURE_KEYS = (
    "measure_id",
    "finding_id",
    "inspection_id",
    "round_id",
    "unit_id",
    "category_l1",
    "category_l2",
)
DERIVED_COMMENTS["rect_current_measures"] = (
    DERIVED_COMMENTS["rect_current_measures"][0],
    {k: DERIVED_COMMENTS["measure_timeline"][1][k] for k in _MEASURE_KEYS}
    | DERIVED_COMMENTS["rect_current_measures"][1],
)
DERIVED_COMMENTS["rect_current_group_dates"][1].update(
    {
        k: DERIVED_COMMENTS["rect_current_dates"][1][k]
        for k in ("d", "open_measures", "findings_earliest")
    }
)
# rect_current_inspection has rect_current's columns less the categories.
DERIVED_COMMENTS["rect_current_inspection"][1].update(
    {k: v for k, v in DERIVED_COMMENTS["rect_current"][1].items() if not k.startswith("category")}
)


# lists.sql: finding_cells (rect_current's finding counts with round, unit, settled_on) and
# chain_findings (the findings that may stand in a 屡查屡犯 chain).
DERIVED_COMMENTS["finding_cells"] = (
    "（派生）问题计数格：每个巡察每个二级类别一行（同 rect_current），附所属轮次、单位和该巡察"
    "整改状态不再变化的日期；统计截至日期不早于该日期的巡察按此计数，其余按时间线计算",
    {
        k: DERIVED_COMMENTS["rect_current"][1][k]
        for k in (
            "inspection_id",
            "category_l1",
            "category_l2",
            "findings",
            "findings_done",
            "rebound_findings",
            "focus_findings",
            "four_winds_findings",
            "personnel_findings",
        )
    }
    | {
        "round_id": DERIVED_COMMENTS["finding_timeline"][1]["round_id"],
        "unit_id": DERIVED_COMMENTS["finding_timeline"][1]["unit_id"],
        "settled_on": DERIVED_COMMENTS["inspection_settled"][1]["settled_on"],
    },
)
DERIVED_COMMENTS["chain_findings"] = (
    "（派生）可能构成屡查屡犯链条的问题：同一单位同一二级类别在两轮及以上巡察中发现的问题，"
    "附其最早出现日期（统计截至日期不早于该日期时计入）",
    {
        k: DERIVED_COMMENTS["finding_timeline"][1][k]
        for k in (
            "finding_id",
            "inspection_id",
            "round_id",
            "unit_id",
            "category_l1",
            "category_l2",
            "is_rebound",
        )
    }
    | {"first_from": "该问题最早出现在时间线中的日期"},
)
# curve.sql: curve_cells (the 整改进度曲线's difference arrays of the settled inspections).
DERIVED_COMMENTS["curve_cells"] = (
    "（派生）整改进度曲线的变化量：每个巡察每个二级类别每个“反馈后第几天”一行，记该日问题数"
    "（仅第 0 天）及已完成、基本完成问题数的增减；统计截至日期不早于该巡察整改状态不再变化的"
    "日期时按此累计，其余按时间线计算",
    {
        "round_id": DERIVED_COMMENTS["finding_timeline"][1]["round_id"],
        "inspection_id": DERIVED_COMMENTS["finding_timeline"][1]["inspection_id"],
        "category_l1": DERIVED_COMMENTS["finding_timeline"][1]["category_l1"],
        "category_l2": DERIVED_COMMENTS["finding_timeline"][1]["category_l2"],
        "settled_on": DERIVED_COMMENTS["inspection_settled"][1]["settled_on"],
        "feedback_date": DERIVED_COMMENTS["finding_timeline"][1]["feedback_date"],
        "day": "反馈日期后第几天（0 为反馈当日）",
        "findings": "该巡察该类别的问题数（仅第 0 天一行，其余为 0）",
        "d_done": "该日起已完成问题数的增减",
        "d_basic": "该日起基本完成问题数的增减",
    },
)
DERIVED_COMMENTS["curve_whole"] = (
    "（派生）整改进度曲线的变化量（全库合计）：每个轮次每个二级类别每个“反馈后第几天”一行，"
    "由 curve_cells 按巡察合计；统计截至日期不早于全库整改状态不再变化的日期且不限巡察时使用",
    {
        k: DERIVED_COMMENTS["curve_cells"][1][k]
        for k in ("round_id", "category_l1", "category_l2", "day", "findings", "d_done", "d_basic")
    }
    | {"last_feedback": "该行所计问题中最晚的反馈日期（仅第 0 天一行）"},
)
DERIVED_COMMENTS["curve_settled"] = (
    "（派生）整改进度曲线的变化量（按整改状态不再变化的日期合计）：每个轮次、每个“状态不再变化"
    "日期”、每个“反馈后第几天”一行，由 curve_cells 合计；统计截至日期早于全库整改状态不再变化"
    "的日期、不限巡察和类别时，累计该日期及以前不再变化的各巡察",
    {
        k: DERIVED_COMMENTS["curve_cells"][1][k]
        for k in ("round_id", "settled_on", "day", "findings", "d_done", "d_basic")
    }
    | {"last_feedback": DERIVED_COMMENTS["curve_whole"][1]["last_feedback"]},
)


# lists.sql: category_entries (units per category by the day they entered it) and
# chain_current (the 屡查屡犯 chains of the whole store in its current state).
DERIVED_COMMENTS["category_entries"] = (
    "（派生）各类别的单位进入日：每个一级、二级类别和日期一行，记当日首次出现该类别问题的单位数；"
    "统计截至日期某类别的单位数为该日及以前各行之和（全库范围，问题分布的类别构成）",
    {
        "category_l1": DERIVED_COMMENTS["finding_timeline"][1]["category_l1"],
        "category_l2": DERIVED_COMMENTS["finding_timeline"][1]["category_l2"],
        "first_on": "单位首次出现该类别问题的日期",
        "units": "该日首次出现该类别问题的单位数",
    },
)
DERIVED_COMMENTS["chain_current"] = (
    "（派生）全库当前状态下的屡查屡犯链条：同一单位同一二级类别在两次及以上巡察中发现，"
    "每条链条一行（统计截至日期不早于全库整改状态不再变化的日期、未选一级类别时使用）",
    {
        "unit_id": DERIVED_COMMENTS["finding_timeline"][1]["unit_id"],
        "category_l2": DERIVED_COMMENTS["finding_timeline"][1]["category_l2"],
        "category_l1": "链条上问题的一级类别代码（有多个时取最小者）",
        "single_l1": "链条上的问题是否同属一个一级类别",
        "round_count": "发现该类别问题的巡察次数",
        "findings": "链条上的问题数",
        "rebound_rounds": "出现反弹的巡察次数",
        "open_findings": "链条上尚未整改完成的问题数",
        "chain": "各轮次依次连接的链条文字，反弹轮次注明",
        "finding_ids": "链条上的问题编号",
    },
)


def _comment(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _migration_1(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SEQUENCE IF NOT EXISTS history_seq START 1")
    for name, comment, body, columns in TABLES:
        con.execute(f"CREATE TABLE {name} ({body})")
        con.execute(f"COMMENT ON TABLE {name} IS {_comment(comment)}")
        for column, text in columns.items():
            con.execute(f"COMMENT ON COLUMN {name}.{column} IS {_comment(text)}")
    con.executemany("INSERT INTO category_l1 VALUES (?, ?, ?)", categories.L1)
    con.executemany("INSERT INTO category_l2 VALUES (?, ?, ?)", categories.L2)
    con.executemany(
        "INSERT INTO category_aliases VALUES (?, ?, ?)",
        [(alias, fw, l1) for fw, alias, l1 in categories.ALIASES],
    )
    con.executemany("INSERT INTO tag_dictionary VALUES (?, ?)", categories.TAGS)


# Migration 2: what ledger imports need to be idempotent, explained and undoable. Columns are
# only added to import_batches (other tables are inserted positionally by fixtures), and the
# undo log is its own table: DuckDB cannot update a referenced row's indexed columns, so a
# rollback restores the previous values recorded here instead of replaying history.
_BATCH_COLUMNS_2: list[tuple[str, str, str]] = [
    ("inspection_id", "INTEGER", "巡察编号（台账导入所属的巡察）"),
    ("findings_unchanged", "INTEGER", "比对后未变的问题数"),
    ("measures_unchanged", "INTEGER", "比对后未变的措施数"),
    ("status_changes", "INTEGER", "记录的措施状态变更条数"),
    ("deadline_changes", "INTEGER", "记录的整改时限变更条数（含延期）"),
    ("rollback_of", "INTEGER", "回滚批次所撤销的批次编号"),
    ("rolled_back_by", "INTEGER", "撤销本批次的回滚批次编号"),
]

BATCH_CHANGES = (
    "batch_changes",
    "导入批次的变更记录（用于回滚）：批次新增或修改的每一行，修改时保存修改前的值",
    "change_id BIGINT PRIMARY KEY, batch_id INTEGER NOT NULL, table_name VARCHAR NOT NULL,"
    " row_id INTEGER NOT NULL, action VARCHAR NOT NULL CHECK (action IN ('insert', 'update')),"
    " before_json VARCHAR",
    {
        "change_id": "变更记录编号",
        "batch_id": "导入批次编号",
        "table_name": "被变更的表（rounds/units/inspections/findings/measures）",
        "row_id": "被变更行的编号",
        "action": "变更方式：insert 新增/update 修改",
        "before_json": "修改前各列的值（JSON；新增时为空）",
    },
)


def _migration_2(con: duckdb.DuckDBPyConnection) -> None:
    for column, kind, text in _BATCH_COLUMNS_2:
        con.execute(f"ALTER TABLE import_batches ADD COLUMN {column} {kind}")
        con.execute(f"COMMENT ON COLUMN import_batches.{column} IS {_comment(text)}")
    con.execute(
        "COMMENT ON COLUMN import_batches.kind IS "
        + _comment("类型：demo 演示数据/ledger 台账导入/rollback 回滚/fixture 测试数据")
    )
    name, comment, body, columns = BATCH_CHANGES
    con.execute(f"CREATE TABLE {name} ({body})")
    con.execute(f"COMMENT ON TABLE {name} IS {_comment(comment)}")
    for column, text in columns.items():
        con.execute(f"COMMENT ON COLUMN {name}.{column} IS {_comment(text)}")


def _migration_3(con: duckdb.DuckDBPyConnection) -> None:
    # A problem first listed in a later progress ledger was not known before that ledger:
    # figures asked as of earlier dates must not count it (they must give the answer they
    # gave then).
    con.execute("ALTER TABLE findings ADD COLUMN recorded_on DATE")
    con.execute(
        "COMMENT ON COLUMN findings.recorded_on IS "
        + _comment("首次记录日期：反馈后由进展台账新增的问题为该台账截至时间；空表示自反馈日期起计")
    )


def _migration_4(con: duckdb.DuckDBPyConnection) -> None:
    # A problem is identified by its place in the ledger, not by its words (DOMAIN.md §4): a
    # later ledger is paired with the problems held by their 序号 and a measure's order. The
    # order of measures held before is their order of entry, which is their ledger order.
    for table, column, kind, comment in (
        (
            "findings",
            "ledger_position",
            "VARCHAR",
            "台账中的位置：序号（按分组重新编号时含分组），无序号时为顺序",
        ),
        ("findings", "ledger_seq", "VARCHAR", "台账中的序号原文"),
        ("measures", "ledger_order", "INTEGER", "措施在所属问题下的序号（台账中的顺序）"),
        ("measures", "remark", "VARCHAR", "备注（台账原文）"),
    ):
        con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        con.execute(f"COMMENT ON COLUMN {table}.{column} IS {_comment(comment)}")
    con.execute(
        "UPDATE measures SET ledger_order = o.n FROM (SELECT measure_id, row_number() OVER"
        " (PARTITION BY finding_id ORDER BY measure_id) AS n FROM measures) o"
        " WHERE measures.measure_id = o.measure_id"
    )


# Migration 5: rectification reported and accepted online (DOMAIN.md §8). Every table is
# insert-only: a submission's state is the state of its last step (rectify_steps), so every
# state "as of" a date replays from the steps, and nothing is ever updated in place. The
# approved outcome of a step (a progress status, a DONE at 销号, an approved extension) is also
# written where the figures read it: measure_status_history and measure_deadline_history.
SUBMISSION_KINDS = ("progress", "done", "extension")
STEP_KINDS = (
    "report",
    "submit",
    "pass",
    "return",
    "close",
    "request",
    "approve",
    "reject",
    "withdraw",  # a ledger import recorded the measure DONE: its open claims end there
)
STEP_STATES = (
    "recorded",
    "pending_review",
    "pending_close",
    "returned",
    "closed",
    "extension_pending",
    "extension_approved",
    "extension_rejected",
    "superseded",
)
CONTACT_POSITIONS = ("主要负责人", "责任领导", "责任人", "联络员", "巡察办")
NOTICE_KINDS = ("预警提醒", "督办函")
NOTICE_COLOURS = ("绿", "黄", "红")

RECTIFY_TABLES: list[tuple[str, str, str, dict[str, str]]] = [
    (
        "rectify_submissions",
        "整改填报：被巡察单位联络员的每次填报一行（进展、完成、延期申请），只增不改",
        "submission_id INTEGER PRIMARY KEY, measure_id INTEGER NOT NULL, finding_id INTEGER NOT"
        " NULL, inspection_id INTEGER NOT NULL, round_id INTEGER NOT NULL, unit_id INTEGER NOT NULL,"
        f" kind VARCHAR NOT NULL CHECK (kind IN ({_in(SUBMISSION_KINDS)})), status VARCHAR CHECK"
        f" (status IN ({_in(MEASURE_STATUSES)})), progress VARCHAR, completed_on DATE,"
        " proposed_deadline DATE, reason VARCHAR, submitted_by VARCHAR NOT NULL, submitted_at"
        " TIMESTAMP NOT NULL, submitted_on DATE NOT NULL, source VARCHAR NOT NULL DEFAULT 'online',"
        " source_file VARCHAR, source_sha256 VARCHAR, source_row INTEGER, batch_id INTEGER NOT NULL",
        {
            "submission_id": "填报编号",
            "measure_id": "措施编号",
            "finding_id": "问题编号（冗余，便于筛选）",
            "inspection_id": "巡察编号（冗余）",
            "round_id": "轮次编号（冗余）",
            "unit_id": "单位编号（冗余）",
            "kind": "填报类型：progress 整改进展/done 申请销号（报完成）/extension 申请延期",
            "status": "填报的措施状态（进展：IN_PROGRESS/PHASED/NOT_DONE；报完成：DONE）",
            "progress": "整改进展说明",
            "completed_on": "报告的完成日期（报完成时）",
            "proposed_deadline": "申请的新整改时限（申请延期时）",
            "reason": "延期理由",
            "submitted_by": "填报账号",
            "submitted_at": "填报时间",
            "submitted_on": "填报日期",
            "source": "来源：online 在线填报/excel 台账回传",
            "source_file": "回传台账文件名",
            "source_sha256": "回传台账文件 SHA-256",
            "source_row": "回传台账中的行号",
            "batch_id": "写入批次编号",
        },
    ),
    (
        "rectify_steps",
        "整改填报与审核的每一步（提交、审核通过、退回、销号、延期审批），每步一行，只增不改；"
        "某填报在某日的状态为该日及以前最后一步的结果",
        "step_id BIGINT PRIMARY KEY, submission_id INTEGER NOT NULL, measure_id INTEGER NOT NULL,"
        " round_id INTEGER NOT NULL, unit_id INTEGER NOT NULL,"
        f" step VARCHAR NOT NULL CHECK (step IN ({_in(STEP_KINDS)})),"
        f" state VARCHAR NOT NULL CHECK (state IN ({_in(STEP_STATES)})), actor VARCHAR NOT NULL,"
        " actor_role VARCHAR NOT NULL, acted_at TIMESTAMP NOT NULL, step_date DATE NOT NULL, reason"
        " VARCHAR, evidence VARCHAR[] NOT NULL DEFAULT [], batch_id INTEGER NOT NULL",
        {
            "step_id": "步骤编号（越大越晚）",
            "submission_id": "填报编号",
            "measure_id": "措施编号",
            "round_id": "轮次编号（冗余）",
            "unit_id": "单位编号（冗余）",
            "step": "步骤：report 报进展/submit 报完成/pass 审核通过/return 退回/close 销号/"
            "request 申请延期/approve 批准延期/reject 不予延期/withdraw 台账已记为完成而撤销",
            "state": "该步之后的状态：recorded 已记录/pending_review 待审核/pending_close 待销号/"
            "returned 已退回/closed 已销号/extension_pending 延期待审批/extension_approved 已批准延期/"
            "extension_rejected 不予延期/superseded 已撤销（台账已记为完成）",
            "actor": "操作账号",
            "actor_role": "操作人角色",
            "acted_at": "操作时间",
            "step_date": "生效日期",
            "reason": "理由（退回、延期、审批意见）",
            "evidence": "该步涉及的佐证材料 SHA-256",
            "batch_id": "写入批次编号",
        },
    ),
    (
        "evidence_files",
        "佐证材料文件：按内容 SHA-256 存放在数据仓 evidence 目录，每个文件一行",
        "sha256 VARCHAR PRIMARY KEY, size BIGINT NOT NULL, media_type VARCHAR NOT NULL, file_kind"
        " VARCHAR NOT NULL, added_at TIMESTAMP NOT NULL, added_by VARCHAR NOT NULL",
        {
            "sha256": "文件内容 SHA-256",
            "size": "文件大小（字节）",
            "media_type": "文件类型（MIME）",
            "file_kind": "类别：PDF/图片/Word/Excel",
            "added_at": "首次上传时间",
            "added_by": "首次上传账号",
        },
    ),
    (
        "submission_evidence",
        "填报所附佐证材料：每个填报每个文件一行",
        "submission_id INTEGER NOT NULL, sha256 VARCHAR NOT NULL, file_name VARCHAR NOT NULL,"
        " position INTEGER NOT NULL, PRIMARY KEY (submission_id, position)",
        {
            "submission_id": "填报编号",
            "sha256": "文件内容 SHA-256",
            "file_name": "上传时的文件名",
            "position": "在该填报中的顺序",
        },
    ),
    (
        "contacts",
        "通讯录：被巡察单位的主要负责人、联络员等和巡察办的收件人（预警提醒、督办函的收件人）",
        "contact_id INTEGER PRIMARY KEY, unit_id INTEGER,"
        f" position VARCHAR NOT NULL CHECK (position IN ({_in(CONTACT_POSITIONS)})), name VARCHAR"
        " NOT NULL, email VARCHAR, account VARCHAR, batch_id INTEGER NOT NULL",
        {
            "contact_id": "编号",
            "unit_id": "单位编号（巡察办为空）",
            "position": "身份：主要负责人/责任领导/责任人/联络员/巡察办",
            "name": "姓名",
            "email": "电子邮箱",
            "account": "本系统账号",
            "batch_id": "写入批次编号",
        },
    ),
    (
        "notices",
        "预警提醒和督办函：每份文书一行，含文号、日期、收件人",
        "notice_id INTEGER PRIMARY KEY, kind VARCHAR NOT NULL CHECK (kind IN"
        f" ({_in(NOTICE_KINDS)})), year INTEGER NOT NULL, number INTEGER NOT NULL, doc_number"
        " VARCHAR NOT NULL, issued_on DATE NOT NULL, unit_id INTEGER NOT NULL, recipients VARCHAR"
        " NOT NULL, file_sha256 VARCHAR, issued_by VARCHAR NOT NULL, issued_at TIMESTAMP NOT NULL,"
        " batch_id INTEGER NOT NULL, UNIQUE (kind, year, number)",
        {
            "notice_id": "文书编号",
            "kind": "文书类型：预警提醒/督办函",
            "year": "年度",
            "number": "年度内序号",
            "doc_number": "文号",
            "issued_on": "发文日期",
            "unit_id": "单位编号",
            "recipients": "收件人（JSON：姓名、身份、邮箱、账号）",
            "file_sha256": "文书文件 SHA-256",
            "issued_by": "发文账号（定时任务为 system）",
            "issued_at": "生成时间",
            "batch_id": "写入批次编号",
        },
    ),
    (
        "notice_items",
        "预警提醒和督办函所列措施：每份文书每条措施一行",
        "notice_id INTEGER NOT NULL, measure_id INTEGER NOT NULL,"
        f" colour VARCHAR NOT NULL CHECK (colour IN ({_in(NOTICE_COLOURS)})), deadline DATE NOT"
        " NULL, days_left INTEGER NOT NULL, PRIMARY KEY (notice_id, measure_id)",
        {
            "notice_id": "文书编号",
            "measure_id": "措施编号",
            "colour": "预警颜色：绿/黄/红",
            "deadline": "发文时的现行整改时限",
            "days_left": "距时限天数（逾期为负）",
        },
    ),
]


def _migration_5(con: duckdb.DuckDBPyConnection) -> None:
    for name, comment, body, columns in RECTIFY_TABLES:
        con.execute(f"CREATE TABLE {name} ({body})")
        con.execute(f"COMMENT ON TABLE {name} IS {_comment(comment)}")
        for column, text in columns.items():
            con.execute(f"COMMENT ON COLUMN {name}.{column} IS {_comment(text)}")
    con.execute(
        "COMMENT ON COLUMN import_batches.kind IS "
        + _comment(
            "类型：demo 演示数据/ledger 台账导入/rollback 回滚/fixture 测试数据/"
            "online 在线填报与审核/notices 预警提醒与督办函/contacts 通讯录"
        )
    )


# Migration 6: the 整改成效评估's manual items (DOMAIN.md §1 step 4): each entry of a manual
# item (满意度测评, 实地查看, 群众评判) or of a 一票否决 item, its evidence files and its
# second person's decision. Insert-only like the online tables: an entry's state is whether a
# decision row exists (and which), so every evaluation "as of" a date replays.
EVALUATION_DECISIONS = ("confirm", "reject")

EVALUATION_TABLES: list[tuple[str, str, str, dict[str, str]]] = [
    (
        "evaluation_entries",
        "整改成效评估人工评分项的录入：每次录入一行（满意度测评、实地查看、群众评判、一票否决项），只增不改",
        "entry_id INTEGER PRIMARY KEY, inspection_id INTEGER NOT NULL, round_id INTEGER NOT NULL,"
        " unit_id INTEGER NOT NULL, item VARCHAR NOT NULL, value DOUBLE NOT NULL, note VARCHAR NOT"
        " NULL, entered_by VARCHAR NOT NULL, entered_role VARCHAR NOT NULL, entered_at TIMESTAMP"
        " NOT NULL, entered_on DATE NOT NULL, batch_id INTEGER NOT NULL",
        {
            "entry_id": "录入编号",
            "inspection_id": "巡察编号（被评估的单位在该轮次的巡察）",
            "round_id": "轮次编号（冗余）",
            "unit_id": "单位编号（冗余）",
            "item": "评分项（配置中的人工评分项或一票否决项的键）",
            "value": "录入的分值；一票否决项为 1（成立）或 0（不成立）",
            "note": "评分依据说明",
            "entered_by": "录入账号",
            "entered_role": "录入人角色",
            "entered_at": "录入时间",
            "entered_on": "录入日期（生效日期）",
            "batch_id": "写入批次编号",
        },
    ),
    (
        "evaluation_entry_evidence",
        "整改成效评估人工评分项所附佐证材料：每次录入每个文件一行",
        "entry_id INTEGER NOT NULL, sha256 VARCHAR NOT NULL, file_name VARCHAR NOT NULL,"
        " position INTEGER NOT NULL, PRIMARY KEY (entry_id, position)",
        {
            "entry_id": "录入编号",
            "sha256": "文件内容 SHA-256",
            "file_name": "上传时的文件名",
            "position": "在该录入中的顺序",
        },
    ),
    (
        "evaluation_decisions",
        "整改成效评估人工评分项的确认：另一人对录入的确认或退回，每条录入至多一行；确认后计入得分",
        "entry_id INTEGER PRIMARY KEY,"
        f" decision VARCHAR NOT NULL CHECK (decision IN ({_in(EVALUATION_DECISIONS)})),"
        " reason VARCHAR, decided_by VARCHAR NOT NULL, decided_role VARCHAR NOT NULL,"
        " decided_at TIMESTAMP NOT NULL, decided_on DATE NOT NULL, batch_id INTEGER NOT NULL",
        {
            "entry_id": "录入编号",
            "decision": "确认结果：confirm 确认（计入得分）/reject 退回（不计入）",
            "reason": "退回理由",
            "decided_by": "确认人账号（不能是录入人）",
            "decided_role": "确认人角色",
            "decided_at": "确认时间",
            "decided_on": "确认日期（生效日期）",
            "batch_id": "写入批次编号",
        },
    ),
]


def _migration_6(con: duckdb.DuckDBPyConnection) -> None:
    for name, comment, body, columns in EVALUATION_TABLES:
        con.execute(f"CREATE TABLE {name} ({body})")
        con.execute(f"COMMENT ON TABLE {name} IS {_comment(comment)}")
        for column, text in columns.items():
            con.execute(f"COMMENT ON COLUMN {name}.{column} IS {_comment(text)}")
    con.execute(
        "COMMENT ON COLUMN import_batches.kind IS "
        + _comment(
            "类型：demo 演示数据/ledger 台账导入/rollback 回滚/fixture 测试数据/"
            "online 在线填报与审核/notices 预警提醒与督办函/contacts 通讯录/"
            "evaluation 整改成效评估人工评分"
        )
    )


MIGRATIONS = [
    (1, "初始结构：轮次、单位、巡察、问题、措施、状态历史、线索、成效、类别字典", _migration_1),
    (2, "台账导入：批次比对计数、回滚关系、批次变更记录（batch_changes）", _migration_2),
    (3, "问题首次记录日期（进展台账新增的问题自其截至时间起计）", _migration_3),
    (4, "台账位置：问题的序号与措施的顺序（按位置而非文字识别问题）、备注", _migration_4),
    (5, "在线整改：填报、审核与销号步骤、佐证材料、通讯录、预警提醒与督办函", _migration_5),
    (6, "整改成效评估：人工评分项的录入、佐证材料与确认", _migration_6),
]


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migrations'"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the schema to SCHEMA_VERSION; returns the version reached."""
    version = start = current_version(con)
    for number, description, apply in MIGRATIONS:
        if number <= version:
            continue
        apply(con)
        con.execute(
            "INSERT INTO schema_migrations VALUES (?, ?, ?)",
            [number, description, dt.datetime.now()],
        )
        version = number
    if version != start:
        refresh_derived(con)
    return version


def add_current_summaries(con: duckdb.DuckDBPyConnection) -> None:
    """The current-state summaries (and settled_on, current_layout) from the timelines as
    they are, with the vocabulary: for a copy of a version written by older code
    (Store.readable_file), and at the end of every write (refresh_derived)."""
    sql.run(con, "vocabulary")
    sql.run(con, "settled")
    sql.run(con, "current_summaries")
    sql.run(con, "current_inspection")
    sql.run(con, "current_groups")
    sql.run(con, "vocabulary_tables")
    sql.run(con, "lists")
    sql.run(con, "curve")
    con.execute(f"INSERT OR REPLACE INTO store_meta VALUES ('current_layout', '{CURRENT_LAYOUT}')")
    con.execute(_SETTLED_ON_SQL)


def refresh_derived(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild the derived tables from the base tables (one definition of finding status)."""
    sql.run(con, "vocabulary")
    sql.run(con, "timelines")
    add_current_summaries(con)
    for table, (comment, columns) in DERIVED_COMMENTS.items():
        con.execute(f"COMMENT ON TABLE {table} IS {_comment(comment)}")
        for column, text in columns.items():
            con.execute(f"COMMENT ON COLUMN {table}.{column} IS {_comment(text)}")


# The layout of the current-state summaries and vocabulary this code reads (store_meta
# current_layout; queries/store_settled_on.sql names it too). A store written by older code has
# another or none: Store.connect() reads it through a copy with the summaries and the vocabulary
# added (readable_file).
CURRENT_LAYOUT = "11"
# The SQL of xuncha/store/sql/ that layout stands for (sql.digest()); a test fails when the SQL
# changes and these two are not both updated.
LAYOUT_DIGEST = "2238ca192f04c5ba"

# The groupings rect_current_groups holds (xuncha/store/sql/current_groups.sql).
WHOLE_GROUPINGS = ("all", "round", "unit", "round_unit", "sector", "peer_group")

# The last date at which any timeline interval starts or ends: from then on the open intervals
# (the current-state summaries) are the state: the latest inspection's (inspection_settled).
_SETTLED_ON_SQL = """
INSERT OR REPLACE INTO store_meta
SELECT 'settled_on', max(settled_on)::VARCHAR FROM inspection_settled
"""

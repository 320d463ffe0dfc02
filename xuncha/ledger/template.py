"""The standard ledger template (整改落实台账模板): what the reader understands best.

A merged title row, a 填报单位 / 截至时间 line, the header, one filled example row (序号
“示例”, which the reader skips), drop-downs for 问题类别 and 整改状态, a frozen header, and a
second sheet explaining the accepted forms.
"""

from __future__ import annotations

from pathlib import Path

import xlsxwriter

from xuncha.store import categories

HEADER = [
    ("序号", 6),
    ("问题类别", 22),
    ("问题子类", 16),
    ("具体问题", 40),
    ("具体表现", 30),
    ("整改措施", 40),
    ("责任领导", 10),
    ("责任部门", 12),
    ("责任人", 10),
    ("整改时限", 16),
    ("整改状态", 12),
    ("整改进展", 30),
    ("完成时间", 12),
    ("佐证材料", 20),
]
STATUS_CHOICES = ["已完成", "基本完成", "正在整改", "未完成", "申请延期", "长期坚持"]
EXAMPLE = [
    "示例",
    "落实全面从严治党战略部署方面",
    "违反中央八项规定精神",
    "公务接待管理不规范",
    "2023年有3次公务接待无公函、无接待清单",
    "1.修订公务接待管理办法；\n2.对相关人员进行提醒谈话",
    "张某某",
    "办公室",
    "李某某",
    "2024年6月底前",
    "正在整改",
    "已起草管理办法，待党组会审议",
    "",
    "",
]
LAST_ROW = 2000  # drop-downs cover this many rows
NOTES = [
    ("填写说明", ""),
    ("序号为“示例”的行", "导入时自动忽略；可删除，也可保留。"),
    (
        "问题类别",
        "按“四个落实”填写（下拉选择），也可写旧的“三个聚焦”表述；也可用“一、…方面”分组行代替本列。",
    ),
    (
        "问题子类",
        "可选；填二级类别名称（如“违反中央八项规定精神”“选人用人”），不能识别时二级类别留空。",
    ),
    (
        "合并单元格",
        "同一问题有多条措施时，序号、问题类别、具体问题等可合并单元格，或只在第一行填写。",
    ),
    ("整改措施", "一个单元格可写多条措施：“1.…（换行）2.…”或“（1）…（2）…”，导入时拆为多条。"),
    (
        "整改时限",
        "可写：立行立改、2024年6月底前、2024年底前、2024年上半年、2024年一季度、2024年6月30日、"
        "2024.6.30、2个月内、反馈后三个月内、长期坚持、“2024年6月底前完成，长期坚持”。"
        "不写年份时按反馈日期推算并提示；“6月前”含义不明，请写“6月底前”。",
    ),
    (
        "整改状态",
        "已完成（完成整改、已整改、已销号）、基本完成（阶段性完成）、正在整改（整改中、持续推进）、"
        "未完成（未启动）、申请延期（须写明新时限，如“申请延期至2024年12月底前”）、长期坚持。",
    ),
    ("截至时间", "第二行填写台账截至日期，导入时作为各项状态的日期。"),
    ("空白标记", "“/”“—”“无”视为空白。表尾的审核人、填报人、联系电话等行自动忽略。"),
]


def write_template(path: Path) -> Path:
    """Write the standard ledger template to `path` (.xlsx) and return the path."""
    path = Path(path)
    book = xlsxwriter.Workbook(str(path))
    try:
        sheet = book.add_worksheet("整改台账")
        title = book.add_format(
            {"bold": True, "font_size": 16, "align": "center", "valign": "vcenter"}
        )
        line = book.add_format({"font_size": 11})
        head = book.add_format(
            {
                "bold": True,
                "align": "center",
                "valign": "vcenter",
                "border": 1,
                "bg_color": "#DDEBF7",
                "text_wrap": True,
            }
        )
        cell = book.add_format({"valign": "top", "border": 1, "text_wrap": True})
        example = book.add_format(
            {"valign": "top", "border": 1, "text_wrap": True, "font_color": "#7F7F7F"}
        )
        last = len(HEADER) - 1
        sheet.merge_range(0, 0, 0, last, "中共XX党组关于市委第X巡察组反馈意见整改落实台账", title)
        sheet.set_row(0, 32)
        sheet.merge_range(1, 0, 1, 5, "填报单位：", line)
        sheet.merge_range(1, 6, 1, last, "截至时间：    年  月  日", line)
        for col, (name, width) in enumerate(HEADER):
            sheet.write(2, col, name, head)
            sheet.set_column(col, col, width)
        sheet.set_row(2, 24)
        for col, value in enumerate(EXAMPLE):
            sheet.write_string(3, col, value, example)
        for row in range(4, 40):
            for col in range(len(HEADER)):
                sheet.write_blank(row, col, None, cell)
        category_col = [h for h, _ in HEADER].index("问题类别")
        status_col = [h for h, _ in HEADER].index("整改状态")
        sheet.data_validation(
            3,
            category_col,
            LAST_ROW,
            category_col,
            {
                "validate": "list",
                "source": [label for _, _, label in categories.L1],
                "error_type": "warning",
                "input_title": "问题类别",
                "input_message": "按“四个落实”选择",
            },
        )
        sheet.data_validation(
            3,
            status_col,
            LAST_ROW,
            status_col,
            {
                "validate": "list",
                "source": STATUS_CHOICES,
                "input_title": "整改状态",
                "input_message": "申请延期须在整改时限或进展中写明新时限",
            },
        )
        sheet.freeze_panes(3, 0)
        notes = book.add_worksheet("填写说明")
        bold = book.add_format({"bold": True, "valign": "top"})
        wrap = book.add_format({"text_wrap": True, "valign": "top"})
        notes.set_column(0, 0, 18)
        notes.set_column(1, 1, 90)
        for row, (name, text) in enumerate(NOTES):
            notes.write(row, 0, name, bold)
            notes.write(row, 1, text, wrap)
    finally:
        book.close()
    return path

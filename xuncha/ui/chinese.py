"""Chinese for the texts Streamlit's and plotly's frontends write themselves (the dataframe's
toolbar and column menu, the multiselect, the file uploader, the date input, the running
indicator, "Page not found", plotly's modebar, …).

Streamlit has no locale setting, so the approach is one table here, kept with the product:
TEXTS maps each English chrome string, exactly and whole, to its Chinese; PATTERNS covers the
few strings with a number or a list inside ("Limit 20MB per file • XLSX"). `translate()` puts
a small script (xuncha/assets/zh.js) on the page once per run with `st.html(...,
unsafe_allow_javascript=True)`, which runs in the page itself (no iframe): it replaces a text
node, or a title, aria-label, placeholder or data-title attribute, only when its whole trimmed
value is in the table, never inside Markdown, code, table bodies or inputs (what the product
and its users write), and keeps doing so with a MutationObserver as Streamlit re-renders.
Being part of the script run, it works the same under `xuncha serve` and `streamlit run
app.py` (a tag added to the served index.html would miss the first page of a server started
by `streamlit run`, whose hooks are installed only when the app first runs).

Plotly's own locale mechanism is used as well: PLOTLY_CONFIG (locale zh-CN, its dictionary and
its number and date formats) is meant for every chart's config; the modebar titles are also in
the table, so a chart drawn without it is still Chinese.

When Streamlit is upgraded and a new English string shows (tests/test_browser_chinese.py walks
every page as every role and names it), add it to TEXTS or PATTERNS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import streamlit as st

SCRIPT_FILE = Path(__file__).resolve().parents[1] / "assets" / "zh.js"

# English chrome → Chinese, whole strings (the trimmed text of a node or attribute).
STREAMLIT_TEXTS: dict[str, str] = {
    # dataframe toolbar, search and column menu
    "Search": "搜索",
    "Type to search": "输入以搜索",
    "Close Search": "关闭搜索",
    "Next Result": "下一个结果",
    "Previous Result": "上一个结果",
    "Fullscreen": "全屏",
    "Close fullscreen": "退出全屏",
    "Download as CSV": "下载为 CSV",
    "Sort ascending": "升序排列",
    "Sort descending": "降序排列",
    "Pin column": "固定列",
    "Unpin column": "取消固定列",
    "Autosize": "自动列宽",
    "Hide column": "隐藏列",
    "Show/hide columns": "显示或隐藏列",
    "Format": "格式",
    "Automatic": "自动",
    "Localized": "本地格式",
    "Plain": "原样",
    "Compact": "紧凑",
    "Percent": "百分比",
    "Scientific": "科学计数",
    "Accounting": "会计格式",
    "Dollar": "美元",
    "Euro": "欧元",
    "Yen": "日元",
    "Relative": "相对时间",
    "Distribution histogram": "分布直方图",
    "Top values frequency chart": "常见值频次图",
    "Copy column name": "复制列名",
    "Statistics": "统计",
    "Dataframe column menu": "表格列菜单",
    "Quick select a date range": "快速选择日期范围",
    "Link to heading": "本标题的链接",
    "Clear selection": "清除选择",
    "Add row": "添加行",
    "Delete row": "删除行",
    "Delete rows": "删除行",
    "No data": "无数据",
    "Empty": "空",
    "Count": "计数",
    "Distinct": "不同值",
    "Minimum": "最小值",
    "Maximum": "最大值",
    "Average": "平均值",
    "Median": "中位数",
    "Sum": "合计",
    "Standard deviation": "标准差",
    "Rename": "重命名",
    "Wrap": "自动换行",
    "Visibility": "可见性",
    # multiselect and selectbox
    "Select all": "全选",
    "Clear all": "全部清除",
    "Clear value": "清除",
    "No results": "无匹配项",
    "No options to select.": "没有可选项。",
    "No options to select": "没有可选项",
    "Choose an option": "请选择",
    "Choose options": "请选择",
    "Selected values": "已选值",
    "Open": "展开",
    "Close": "关闭",
    # file uploader
    "Upload": "上传",
    "Add files": "添加文件",
    "Browse files": "浏览文件",
    "Drag and drop file here": "将文件拖放到此处",
    "Drag and drop files here": "将文件拖放到此处",
    "Drag and drop a file here": "将文件拖放到此处",
    "Delete": "删除",
    "Remove file": "移除文件",
    "Error uploading file": "文件上传失败",
    "Error deleting file": "文件删除失败",
    # date input
    "Choose date": "选择日期",
    "Choose date range": "选择日期范围",
    "Clear date": "清除日期",
    "Clear dates": "清除日期",
    "Select a date.": "请选择日期。",
    "Previous month.": "上个月。",
    "Next month.": "下个月。",
    "Previous month": "上个月",
    "Next month": "下个月",
    "Month": "月",
    "Year": "年",
    # number input
    "Increment": "增加",
    "Decrement": "减少",
    # app chrome: status, menus, sidebar, dialogs, connection
    "Running...": "运行中…",
    "Running…": "运行中…",
    "Stop": "停止",
    "Rerun": "重新运行",
    "Main menu": "主菜单",
    "Settings": "设置",
    "Print": "打印",
    "About": "关于",
    "Clear cache": "清除缓存",
    "Collapse sidebar": "收起侧边栏",
    "Expand sidebar": "展开侧边栏",
    "View less": "收起",
    "View more": "展开更多",
    "Page not found": "页面不存在",
    "Connecting": "正在连接",
    "Please wait...": "请稍候…",
    "Connection error": "连接错误",
    "Network error": "网络错误",
    "Dismiss": "关闭",
    "Cancel": "取消",
    "Copy": "复制",
    "Copied": "已复制",
    "Copy to clipboard": "复制到剪贴板",
    "Notifications": "通知",
    "Error": "错误",
    "Done": "完成",
    "Complete": "完成",
    "Show more": "展开",
    "Show less": "收起",
    "Tooltip": "提示",
    "Skip to main content": "跳到主要内容",
    "Show password": "显示密码",
    "Hide password": "隐藏密码",
    "Sidebar": "侧边栏",
    "App pages": "页面导航",
    "The page that you have requested does not seem to exist. Running the app's main page.": (
        "所请求的页面不存在，已打开首页。"
    ),
}

# plotly.js's own dictionary (the modebar, notifiers), as in its zh-CN locale.
PLOTLY_TEXTS: dict[str, str] = {
    "Autoscale": "自动缩放",
    "Box Select": "框选",
    "Compare data on hover": "悬停时比较数据",
    "Double-click on legend to isolate one trace": "双击图例只显示该序列",
    "Double-click to zoom back out": "双击还原缩放",
    "Download plot": "下载图表",
    "Download plot as a png": "下载图表为 PNG 图片",
    "Download plot as a PNG": "下载图表为 PNG 图片",
    "Download plot as JSON": "下载图表为 JSON",
    "Lasso Select": "套索选择",
    "Orbital rotation": "轨道旋转",
    "Pan": "平移",
    "Produced with Plotly": "由 Plotly 生成",
    "Produced with Plotly.js": "由 Plotly 生成",
    "Reset": "重置",
    "Reset axes": "重置坐标轴",
    "Reset camera to default": "重置视角",
    "Reset camera to last save": "恢复上次保存的视角",
    "Reset view": "重置视图",
    "Reset views": "重置视图",
    "Show closest data on hover": "悬停时显示最近的数据",
    "Snapshot succeeded": "已生成快照",
    "Taking snapshot - this may take a few seconds": "正在生成快照，请稍候",
    "Toggle Spike Lines": "显示或隐藏辅助线",
    "Toggle show closest data on hover": "切换悬停显示最近数据",
    "Turntable rotation": "转台旋转",
    "Zoom": "缩放",
    "Zoom in": "放大",
    "Zoom out": "缩小",
    "Draw line": "画线",
    "Draw open freeform": "自由画线",
    "Draw closed freeform": "自由画区域",
    "Draw circle": "画圆",
    "Draw rectangle": "画矩形",
    "Erase active shape": "删除所选图形",
    "Sorry, there was a problem downloading your image!": "抱歉，图片下载出现问题！",
}

TEXTS: dict[str, str] = {**STREAMLIT_TEXTS, **PLOTLY_TEXTS}
# The column menu's type icon is titled with the column's kind: words too common to replace
# anywhere else, so they are replaced only in that menu's title attributes.
COLUMN_KINDS: dict[str, str] = {
    "text": "文本列",
    "number": "数字列",
    "date": "日期列",
    "datetime": "日期时间列",
    "time": "时间列",
    "checkbox": "勾选列",
    "link": "链接列",
    "list": "列表列",
    "object": "对象列",
    "selectbox": "下拉选择列",
    "multiselect": "多选列",
    "progress": "进度列",
    "image": "图片列",
}

# (JavaScript regular expression over the whole trimmed string, replacement with $1…)
PATTERNS: list[tuple[str, str]] = [
    (r"^Limit (\d+(?:\.\d+)?)\s?([KMG]B) per file$", "单个文件不超过 $1 $2"),
    (r"^Limit (\d+(?:\.\d+)?)\s?([KMG]B) per file\s*•\s*(.+)$", "单个文件不超过 $1 $2 • $3"),
    (r"^(\d+(?:\.\d+)?)\s?([KMG]B) per file$", "单个文件不超过 $1 $2"),
    (r"^View (\d+) more$", "展开其余 $1 项"),
    (r"^Help for (.+)$", "$1：说明"),
    (r"^(.+) — start$", "$1 — 起"),
    (r"^(.+) — end$", "$1 — 止"),
    (r"^(.+) start date$", "$1：起始日期"),
    (r"^(.+) end date$", "$1：结束日期"),
    (r"^year, (.+)$", "年，$1"),
    (r"^month, (.+)$", "月，$1"),
    (r"^day, (.+)$", "日，$1"),
    (r"^[a-z_]+ icon$", "图标"),
    (r"^(\d+) selected$", "已选 $1 项"),
    (r"^Sort column (.+) ascending$", "按 $1 升序排列"),
    (r"^Sort column (.+) descending$", "按 $1 降序排列"),
]

_MONTHS = [f"{m}月" for m in range(1, 13)]
_DAYS = ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"]
PLOTLY_LOCALE: dict[str, Any] = {
    "dictionary": PLOTLY_TEXTS,
    "format": {
        "days": _DAYS,
        "shortDays": ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
        "months": _MONTHS,
        "shortMonths": _MONTHS,
        "date": "%Y-%m-%d",
        "decimal": ".",
        "thousands": ",",
        "grouping": [3],
        "currency": ["¥", ""],
    },
}
# For st.plotly_chart(config=...): plotly.js reads a locale given with the chart.
PLOTLY_CONFIG: dict[str, Any] = {"locale": "zh-CN", "locales": {"zh-CN": PLOTLY_LOCALE}}


def table() -> dict[str, Any]:
    """What the browser script receives: the exact strings and the patterns."""
    return {"texts": TEXTS, "patterns": [list(p) for p in PATTERNS], "kinds": COLUMN_KINDS}


def script() -> str:
    """The browser script with the table in it (JSON, with "<" escaped: it sits in HTML)."""
    source = SCRIPT_FILE.read_text(encoding="utf-8")
    data = json.dumps(table(), ensure_ascii=False).replace("<", "\\u003c")
    return source.replace("__ZH_TABLE__", data)


# The element that carries the script takes no room: hidden, and out of the block's gaps.
_HIDE = (
    '<style>[data-testid="stElementContainer"]:has(#xuncha-zh),'
    " .stElementContainer:has(#xuncha-zh) { display: none; }</style>"
)


def translate() -> None:
    """Put the translating script on this page (once per script run, first thing in main():
    the same element every run, so the browser runs it once per page load)."""
    st.html(
        f'<span id="xuncha-zh"></span>{_HIDE}<script>{script()}</script>',
        unsafe_allow_javascript=True,
    )


# -- the audit log as read on its page (the export keeps each record as written) -------------

# Actions recorded by modules whose name is not (yet) in audit.ACTIONS.
AUDIT_ACTIONS: dict[str, str] = {
    "download_refused": "下载被拒绝",
    "search": "关键词检索",
    "evaluation_enter": "录入整改成效评估",
    "evaluation_confirm": "确认整改成效评估",
    "evaluation_reject": "退回整改成效评估",
    "evaluation_archive": "存档整改成效评估",
}

AUDIT_FIELDS: dict[str, str] = {
    "access": "权限",
    "action": "操作",
    "archive": "存档",
    "archive_id": "存档编号",
    "archive_sha256": "存档校验值",
    "backup_audit_head": "备份时审计末条",
    "backup_created": "备份时间",
    "backup_store": "备份数据仓",
    "batch_id": "导入批次",
    "batch_ids": "导入批次",
    "before": "变更前",
    "briefing_id": "简报编号",
    "by_position": "按位置配对",
    "bytes": "字节数",
    "cause": "原因",
    "change": "变更",
    "checked": "已核对",
    "client": "客户端地址",
    "clue_details": "线索明细",
    "colours": "预警颜色",
    "columns": "列",
    "command": "命令",
    "config_digest": "配置校验值",
    "config_source": "配置来源",
    "contacts": "联系人数",
    "context": "情境",
    "created": "创建时间",
    "damage": "损坏情况",
    "data_version": "数据版本",
    "display_name": "姓名",
    "doc_number": "文号",
    "docx_sha256": "Word 文档校验值",
    "duration_ms": "用时（毫秒）",
    "entry_id": "记录编号",
    "error": "错误",
    "errors": "错误数",
    "evidence_sha256": "佐证材料校验值",
    "file": "文件",
    "files": "文件",
    "filters": "筛选条件",
    "findings": "问题数",
    "first_admin": "首个管理员",
    "fmt": "格式",
    "format": "格式",
    "identical": "内容一致",
    "idle_minutes": "空闲分钟数",
    "incident": "事件编号",
    "inspection_id": "巡察编号",
    "issued_on": "印发日期",
    "item": "项目",
    "key_id": "密钥编号",
    "kind": "类型",
    "last_seen": "最近活动",
    "locked_for": "锁定时长",
    "max_rows": "最多行数",
    "measure_ids": "措施编号",
    "measures": "措施数",
    "media": "下载文件",
    "moved_to": "移至",
    "name": "名称",
    "notice_id": "提醒编号",
    "ok": "成功",
    "old_key_id": "原密钥编号",
    "on": "日期",
    "out": "输出",
    "outcome": "结果",
    "page": "页面",
    "password": "密码",
    "pdf": "PDF",
    "pdf_sha256": "PDF 校验值",
    "permission": "权限",
    "purpose": "用途",
    "query_seq": "查询序号",
    "reason": "原因",
    "reasons": "原因",
    "recipients": "收件人",
    "rehashed": "密码已升级存储",
    "replaced": "替换",
    "results": "结果数",
    "retry_after": "可重试时间",
    "role": "角色",
    "role_before": "原角色",
    "round": "轮次",
    "round_id": "轮次编号",
    "rounds": "轮次",
    "rounds_before": "原轮次",
    "rows": "行数",
    "rule_digest": "规则校验值",
    "scope": "范围",
    "scope_digest": "范围校验值",
    "scope_inspections": "范围内巡察次数",
    "scope_round_ids": "范围内轮次",
    "scope_text": "范围",
    "seed": "随机种子",
    "sent": "已发送",
    "server": "服务器",
    "session_hours": "会话时长（小时）",
    "sessions_ended": "结束的会话数",
    "settings": "设置",
    "sha256": "校验值",
    "source": "来源",
    "sql": "查询语句",
    "sql_chars": "查询字数",
    "started": "开始时间",
    "step": "步骤",
    "target": "对象",
    "terms": "检索词",
    "to": "收件人",
    "truncated": "已截断",
    "unit": "单位",
    "unit_id": "单位编号",
    "unit_name": "单位",
    "units": "单位",
    "units_before": "原单位",
    "user": "用户",
    "value": "值",
    "versions": "数据版本",
    "workdays_config_sha256": "工作日配置校验值",
    "xlsx_sha256": "Excel 文件校验值",
    # the sidebar filters (xuncha.filters.URL_KEYS) inside "filters" ("kind": above)
    "sector": "行业领域",
    "peer": "同类组",
    "l1": "一级类别",
    "l2": "二级类别",
    "asof": "统计截至",
}


# Coded values of some details, by key (roles by audit_role_names()).
AUDIT_VALUES: dict[str, dict[str, str]] = {
    "password": {"given": "由管理员设定", "generated": "系统生成"},
    "outcome": {
        "ok": "成功",
        "error": "出错",
        "refused": "拒绝",
        "timeout": "超时",
        "out_of_memory": "超出内存",
    },
    "source": {"cli": "命令行", "dashboard": "驾驶舱", "page": "页面", "serve": "启动驾驶舱"},
    "purpose": {"display": "显示", "export": "导出"},
    "reason": {"expired": "链接已过期", "not_yours": "不属于当前会话", "unknown": "文件不存在"},
    "format": {"xlsx": "Excel", "csv": "CSV", "json": "JSON", "docx": "Word", "pdf": "PDF"},
    # The commands whose printed output is recorded (cli._print_recorded).
    "command": {
        "metrics": "整改指标",
        "online": "在线整改指标",
        "search": "关键词检索",
        "ecology": "政治生态研判",
        "contacts list": "通讯录",
        "revisit": "回头看候选",
        "evaluation": "整改成效评估",
        "evaluation archives": "评估存档列表",
        "sql": "数据查询",
    },
}
_ROLE_KEYS = ("role", "role_before")


def audit_action(action: str) -> str:
    """An action's Chinese name (audit.ACTIONS, then AUDIT_ACTIONS; "其他操作" if unknown)."""
    from xuncha import audit

    return audit.ACTIONS.get(action) or AUDIT_ACTIONS.get(action) or "其他操作"


def _coded(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in _ROLE_KEYS:
        from xuncha.auth.access import ROLES

        return ROLES.get(value, value)
    if key == "columns":  # a printed table's columns, by their Chinese headers
        from xuncha import labels

        return labels.COLUMNS.get(value, value)
    return AUDIT_VALUES.get(key, {}).get(value, value)


def _value(value: Any, key: str = "") -> str:
    value = _coded(key, value)
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dict):
        return "，".join(f"{audit_field(k)} {_value(v, k)}" for k, v in value.items()) or "—"
    if isinstance(value, list | tuple):
        return "、".join(_value(v, key) for v in value) or "—"
    text = str(value)
    if len(text) == 64 and all(c in "0123456789abcdef" for c in text):
        return text[:12] + "…"  # a SHA-256: its start identifies it; the export has it whole
    return text


def audit_field(key: str) -> str:
    """A detail key's Chinese name; an unknown key is named "其他"."""
    return AUDIT_FIELDS.get(key, "其他")


def audit_details(details: dict[str, Any]) -> str:
    """One record's details as "字段：值；字段：值" in Chinese."""
    return "；".join(f"{audit_field(k)}：{_value(v, k)}" for k, v in details.items())

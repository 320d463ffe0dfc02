"""A hand-made leadership briefing written as .docx, converted to PDF and drawn as PNG pages:
the picture of page 1 in docs/ and a way to look at the layout without the dashboard.

    .venv/bin/python scripts/briefing_sample.py [--out-dir docs] [--keep DIR] [--pages 2]

Needs Chromium (charts; without it the document has tables only), LibreOffice and
poppler-utils (`scripts/setup.sh --browser` installs them). Writes
`briefing-sample-page<N>.png` for the first ``--pages`` pages into the output directory
(default: only page 1 into docs/); ``--keep DIR`` also keeps the .docx and .pdf there.

`sample_briefing()` is also the fixture of tests/test_briefing_docx.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from xuncha.briefing.model import Briefing, Chart, Paragraph, Section, Table  # noqa: E402

NASTY = (
    '台账备注原文：=HYPERLINK("x") 与 <b>加粗</b>、{ PAGE }、&amp; 及控制符\x07，均应按原样显示。'
)


def sample_figure() -> dict[str, object]:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_bar(
        name="问题数", x=["市财政局", "市住建局", "市教育局", "市卫健委"], y=[18, 15, 13, 11]
    )
    fig.add_bar(
        name="已完成整改", x=["市财政局", "市住建局", "市教育局", "市卫健委"], y=[17, 12, 13, 8]
    )
    fig.update_layout(
        title="各单位问题数与已完成整改数",
        barmode="group",
        template="plotly_white",
        legend={"orientation": "h", "y": -0.15},
        margin={"l": 50, "r": 20, "t": 60, "b": 60},
    )
    figure: dict[str, object] = fig.to_plotly_json()
    return figure


def sample_briefing() -> Briefing:
    progress = Table(
        caption="表1 各单位整改进展",
        columns=["单位", "问题数", "已完成整改", "整改完成率", "平均整改天数"],
        rows=[
            ["市财政局", 18, 17, 94.44, 35.5],
            ["市住建局", 15, 12, 80.0, 48.25],
            ["市教育局", 13, 13, 100.0, 29],
            ["市卫健委", 11, 8, 72.73, None],
        ],
        total=["合计", 57, 50, 87.72, 38.917],
        note="注：整改完成率 = 全部措施完成的问题数 ÷ 问题数；“—”表示尚无已完成的问题。",
        formats=["text", "int", "int", "rate", "number"],
    )
    categories = Table(
        caption="表2 问题类别分布",
        columns=["问题类别", "问题数", "占比"],
        rows=[["政治纪律", 12, 21.05], ["廉洁纪律", 25, 43.86], ["工作纪律", 20, 35.09]],
        total=["合计", 57, 100.0],
        formats=["text", "int", "rate"],
    )
    return Briefing(
        title="关于2026年第一轮巡察整改情况的报告",
        subtitle_lines=["（截至2026年11月25日）", "市委巡察办"],
        scope_text="范围：第一轮 市直部门",
        as_of="2026-11-25",
        meta={
            "user": "张三",
            "data_version": 7,
            "config_digest": "3f2a9c1d0b7e5a44",
            "config_name": "研判配置 第2版（2026-11-02 修改）",
            "generated_at": "2026-11-25T09:30:00+08:00",
        },
        sections=[
            Section(
                key="overall",
                heading="总体情况",
                level=1,
                blocks=[
                    Paragraph(
                        "本轮巡察共对4个市直部门开展巡察，发现问题57个，截至11月25日已完成整改"
                        "50个，整改完成率87.72%。"
                    ),
                    Paragraph(NASTY),
                    progress,
                ],
            ),
            Section(
                key="distribution",
                heading="问题分布",
                level=2,
                blocks=[
                    Paragraph("从问题类别看，廉洁纪律方面问题最多，占43.86%。"),
                    categories,
                    Chart(caption="图1 各单位问题数与已完成整改数", figure=sample_figure()),
                ],
            ),
            Section(
                key="focus",
                heading="重点领域",
                level=3,
                blocks=[Paragraph("工程建设、资金管理领域问题较为集中。")],
            ),
            Section(
                key="progress",
                heading="整改进展",
                level=2,
                blocks=[Paragraph("多数单位按期推进整改，市卫健委整改进度相对滞后。")],
            ),
            Section(
                key="overdue",
                heading="逾期未完成情况",
                level=3,
                blocks=[Paragraph("逾期未完成整改的问题共3个，均已督办。")],
            ),
            Section(
                key="suggestions",
                heading="下步工作建议",
                level=1,
                blocks=[Paragraph("建议从以下方面持续推动整改落实：", written=True)],
            ),
            Section(
                key="duty",
                heading="压实整改主体责任",
                level=2,
                blocks=[
                    Paragraph(
                        "督促被巡察党组织书记切实履行第一责任人职责。\n对整改滞后的单位开展约谈。",
                        written=True,
                    )
                ],
            ),
            Section(
                key="ledger",
                heading="建立整改台账",
                level=3,
                blocks=[Paragraph("实行销号管理，逐项对账。", written=True)],
            ),
        ],
    )


def main(argv: list[str] | None = None) -> int:
    from xuncha.briefing import docx, render

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs")
    parser.add_argument("--keep", type=Path, default=None, help="also keep the .docx and .pdf")
    parser.add_argument("--pages", type=int, default=1)
    parser.add_argument("--dpi", type=int, default=96)
    args = parser.parse_args(argv)

    briefing = sample_briefing()
    t0 = time.perf_counter()
    images, note = render.render_charts(briefing)
    t1 = time.perf_counter()
    data = docx.write_docx(briefing, chart_images=images, charts_note=note)
    t2 = time.perf_counter()
    print(f"charts: {len(images)} drawn in {t1 - t0:.2f} s{'；' + note if note else ''}")
    print(f"docx: {len(data)} bytes in {t2 - t1:.2f} s")
    with tempfile.TemporaryDirectory(prefix="xuncha-sample-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        source = work / "briefing-sample.docx"
        source.write_bytes(data)
        pdf = render.docx_to_pdf(source, work)
        t3 = time.perf_counter()
        if pdf is None:
            print("no PDF: LibreOffice is missing or failed (scripts/setup.sh --browser)")
            return 1
        print(f"pdf: {pdf} in {t3 - t2:.2f} s")
        pages = render.pdf_to_png(pdf, work, 1, args.pages, dpi=args.dpi)
        if not pages:
            print("no PNG: pdftoppm is missing or failed (poppler-utils)")
            return 1
        args.out_dir.mkdir(parents=True, exist_ok=True)
        for i, page in enumerate(pages, start=1):
            target = args.out_dir / f"briefing-sample-page{i}.png"
            target.write_bytes(page.read_bytes())
            print(f"png: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

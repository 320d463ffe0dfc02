"""The leadership briefing end to end: drafted through the command line on a demo store, every
number it states equals `xuncha metrics` / `xuncha ecology` for the same scope, the .docx has
the official structure, the archive keeps draft and final and regenerates identically from the
pinned data version, and clue counts are never shown below 3."""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import docx
import pytest

from tests.conftest import AS_OF
from xuncha import cli, demo
from xuncha.briefing import archive, content
from xuncha.figures import disclosure, periods
from xuncha.store import Store, open_reader

ROUND = "十四届市委第六轮巡察"
PREVIOUS = "十四届市委第五轮巡察"


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli.main(list(argv))
    return code, out.getvalue()


@pytest.fixture()
def store(demo_store: Store, tmp_path: Path) -> Iterator[Store]:
    """A private copy of the demo store (briefings write their archive into it)."""
    target = tmp_path / "store"
    shutil.copytree(demo_store.root, target, ignore=shutil.ignore_patterns("*.lock"))
    yield Store(target)


@pytest.fixture()
def made(store: Store, tmp_path: Path) -> tuple[Store, dict[str, object], docx.document.Document]:
    out = tmp_path / "out" / "brief.docx"
    code, text = run(
        "briefing",
        "--db",
        str(store.root),
        "--round",
        ROUND,
        "--as-of",
        AS_OF.isoformat(),
        "--out",
        str(out),
        "--user",
        "测试员",
        "--format",
        "json",
    )
    assert code == 0, text
    result = json.loads(text)
    assert Path(str(result["docx"])) == out
    return store, result, docx.Document(str(out))


def body_text(document: docx.document.Document) -> str:
    return "\n".join(p.text for p in document.paragraphs)


def metrics(store: Store, *extra: str) -> dict[str, object]:
    code, text = run(
        "metrics", "--db", str(store.root), "--as-of", AS_OF.isoformat(), *extra, "--format", "json"
    )
    assert code == 0, text
    data = json.loads(text)
    assert isinstance(data, dict)
    return data


def pct(value: object) -> str:
    assert isinstance(value, float | int)
    return f"{value:.2f}%"


def test_every_rectification_number_equals_metrics(made: tuple) -> None:  # type: ignore[type-arg]
    store, _, document = made
    text = body_text(document)
    m = metrics(store, "--round", ROUND)
    expected = [
        f"反馈问题{m['findings']}个",
        f"制定整改措施{m['measures']}项",
        f"{m['findings']}个问题中已完成整改{m['findings_done']}个",
        f"整改完成率{pct(m['completion_rate'])}",
        f"基本完成{m['findings_basically_done']}个",
        f"含基本完成的完成率{pct(m['completion_rate_lenient'])}",
        f"尚未完成{m['findings_open']}个",
        f"{m['measures']}项整改措施已完成{m['measures_done']}项",
        f"措施完成率{pct(m['measure_completion_rate'])}",
        f"按原定时限完成{m['on_time_original']}项",
        f"按期完成率{pct(m['on_time_rate'])}",
        f"按延期后的现行时限为{pct(m['on_time_rate_current'])}",
        f"逾期未完成的措施{m['overdue_measures']}项，逾期率{pct(m['overdue_rate'])}",
        f"重复问题{m['repeat_findings']}个，重复率{pct(m['repeat_rate'])}",
        f"（屡改屡犯）{m['rebound_findings']}个，反弹率{pct(m['rebound_rate'])}",
    ]
    missing = [e for e in expected if e not in text]
    assert not missing, missing


def test_comparison_with_previous_round_equals_metrics(made: tuple) -> None:  # type: ignore[type-arg]
    store, _, document = made
    now = metrics(store, "--round", ROUND)
    before = metrics(store, "--round", PREVIOUS)
    diff = int(now["findings"]) - int(before["findings"])  # type: ignore[call-overload]
    assert diff != 0  # the demo's sixth round differs from the fifth
    word = "增加" if diff > 0 else "减少"
    change = round(abs(diff) * 100 / int(before["findings"]), 2)  # type: ignore[call-overload]
    sentence = (
        f"与{PREVIOUS}相比，问题总数{word}{abs(diff)}个（{'+' if diff > 0 else '-'}{change:.2f}%）"
    )
    assert sentence in body_text(document)


def test_unit_table_rows_and_total_equal_metrics_by_unit(made: tuple) -> None:  # type: ignore[type-arg]
    store, _, document = made
    code, text = run(
        "metrics", "--db", str(store.root), "--as-of", AS_OF.isoformat(), "--round", ROUND,
        "--by", "unit", "--format", "json",
    )  # fmt: skip
    assert code == 0
    by_unit = {r["unit"]: r for r in json.loads(text)}
    table = next(t for t in document.tables if t.rows[0].cells[0].text == "单位")
    rows = [[c.text for c in row.cells] for row in table.rows[1:]]
    *units, total = rows
    assert len(units) == len(by_unit)
    for name, findings, done, rate, measures, overdue, overdue_rate in units:
        m = by_unit[name]
        assert (int(findings), int(done), int(measures), int(overdue)) == (
            m["findings"],
            m["findings_done"],
            m["measures"],
            m["overdue_measures"],
        )
        assert rate == pct(m["completion_rate"])
        assert overdue_rate == pct(m["overdue_rate"])
    whole = metrics(store, "--round", ROUND)
    assert total[0] == "合计"
    assert int(total[1]) == whole["findings"] == sum(int(r[1]) for r in units)
    assert total[3] == pct(whole["completion_rate"])


def test_ecology_grades_equal_xuncha_ecology(made: tuple) -> None:  # type: ignore[type-arg]
    store, _, document = made
    code, text = run(
        "ecology", "--db", str(store.root), "--round", ROUND, "--as-of", AS_OF.isoformat()
    )
    assert code == 0
    units = json.loads(text)["units"]
    counts: dict[str, int] = {}
    for unit in units:
        counts[unit["grade_label"]] = counts.get(unit["grade_label"], 0) + 1
    body = body_text(document)
    sentence = "、".join(f"{g}{counts.get(g, 0)}个" for g in ("好", "较好", "一般", "差"))
    assert f"被巡察的{len(units)}个单位中，{sentence}" in body
    assert "研判参考" in body
    table = next(t for t in document.tables if t.rows[0].cells[0].text == "同类组")
    scores = {row.cells[2].text: row.cells[3].text for row in table.rows[1:]}
    for unit in units:
        shown = scores[unit["unit"]]
        if unit["grade_label"] == "样本不足":
            assert shown == "—"
        else:
            assert float(shown) == unit["score"], unit["unit"]


def test_docx_has_official_structure(made: tuple) -> None:  # type: ignore[type-arg]
    _, _, document = made
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert headings[:7] == [
        "一、总体情况",
        "二、问题分布特点",
        "三、整改进展",
        "四、屡查屡犯和共性问题",
        "五、线索处置",
        "六、政治生态研判（研判参考）",
        "七、下步工作建议",
    ]
    assert len(document.tables) >= 5
    assert document.inline_shapes, "charts are drawn as pictures (Chromium is installed in CI)"
    footer = document.sections[0].footer
    assert any("内部资料 注意保密" in p.text for p in footer.paragraphs)
    east_asia = document.element.xpath(".//w:rFonts/@w:eastAsia")
    assert east_asia and {"仿宋_GB2312", "黑体"} <= set(east_asia)


def test_clue_counts_are_never_below_three(made: tuple) -> None:  # type: ignore[type-arg]
    store, _, document = made
    text = body_text(document) + "\n".join(
        c.text for t in document.tables for row in t.rows for c in row.cells
    )
    section = text[text.index("五、线索处置") : text.index("六、政治生态研判")]
    for number in re.findall(r"(?<![\d.<≥])([12])件", section):
        pytest.fail(f"a clue count of {number} is shown: {section}")
    reader = open_reader(store)
    try:
        # Drafted without clue rights: the totals are disclosure-controlled sums of banded
        # counts, and no breakdown by routing or disposal gives cells to take them apart.
        from xuncha.filters import Filters, resolve_scope

        rounds = reader.query("rounds_list")
        seq = int(rounds.filter(rounds["name"] == ROUND)["seq"][0])
        scope = resolve_scope(reader, Filters(round_from=seq, round_to=seq, as_of=AS_OF))
        shown = disclosure.totals(reader, scope, clue_details=False)
        exact = disclosure.totals(reader, scope, clue_details=True)
    finally:
        reader.close()
    assert f"移交问题线索{shown['clues'].text}件，涉及{shown['persons'].text}人" in section
    assert not shown["clues"].exact and exact["clues"].text not in section  # not vacuous
    assert "移送纪委监委" not in section and "谈话函询" not in section


def test_archive_keeps_draft_and_final_and_regenerates_identically(made: tuple) -> None:  # type: ignore[type-arg]
    store, result, _ = made
    brief_id = str(result["briefing_id"])
    kept = archive.load(store, brief_id)
    assert kept.request["data_version"] == store.version()
    assert kept.request["config_digest"] and kept.request["filters"]["asof"] == AS_OF.isoformat()
    assert kept.final is not None and kept.docx_path is not None
    assert archive.comparable(kept.final) == archive.comparable(kept.draft)
    assert store.version() in store.pinned()
    pinned = store.version()

    # New data versions after the briefing: more than the store keeps.
    for _ in range(6):
        store.write(lambda con: demo.build(con, seed=7, findings=300), fresh=True)
    assert store.file_for(pinned).is_file(), "a briefing's data version is never pruned"
    code, text = run(
        "briefing", "--db", str(store.root), "--regenerate", brief_id, "--format", "json"
    )
    assert code == 0, text
    assert json.loads(text)["identical"] is True

    # The rectification period rule is archived with the briefing: a store rule changed later
    # (every round now still in its period, so all its grades would read 暂评) changes nothing.
    assert kept.request["period_rule"] == {"min_months": 3, "max_months": 12}
    rule_file = store.root / periods.CONFIG_FILE
    rule_file.parent.mkdir(exist_ok=True)
    rule_file.write_text("min_months = 60\nmax_months = 60\n", encoding="utf-8")
    try:
        code, text = run(
            "briefing", "--db", str(store.root), "--regenerate", brief_id, "--format", "json"
        )
        assert code == 0, text
        assert json.loads(text)["identical"] is True
    finally:
        rule_file.unlink()

    # Tampering with the archived draft is noticed.
    path = kept.folder / "draft.json"
    path.write_text(path.read_text(encoding="utf-8").replace("整改完成率", "整改完成比例"), "utf-8")
    code, text = run(
        "briefing", "--db", str(store.root), "--regenerate", brief_id, "--format", "json"
    )
    assert code == 1 and json.loads(text)["identical"] is False


def test_edited_final_is_kept_beside_the_draft(store: Store) -> None:
    from xuncha import briefing
    from xuncha.filters import Filters, resolve_scope

    reader = open_reader(store)
    try:
        request = content.BriefingRequest(
            Filters(round_from=8, round_to=8, as_of=AS_OF), suggestions=("加强日常监督。",)
        )
        brief_id, draft = briefing.generate(
            store,
            reader,
            request,
            lambda f: resolve_scope(reader, f),
            user="起草人",
            scope_text="全部",
        )
    finally:
        reader.close()
    suggestions = draft.sections[-1]
    assert [b.text for b in suggestions.blocks] == ["加强日常监督。"]  # type: ignore[union-attr]
    edited = briefing.Briefing.from_dict(draft.to_dict())
    edited.sections[0].blocks[0] = briefing.Paragraph("改写后的第一段。")
    briefing.finalise(store, brief_id, edited, user="起草人", pdf=False)
    kept = archive.load(store, brief_id)
    assert kept.final is not None
    assert kept.final.sections[0].blocks[0].text == "改写后的第一段。"  # type: ignore[union-attr]
    assert kept.draft.sections[0].blocks[0].text != "改写后的第一段。"  # type: ignore[union-attr]
    document = docx.Document(str(kept.docx_path))
    assert "改写后的第一段。" in body_text(document)
    assert "加强日常监督。" in body_text(document)
    listed = archive.list_briefings(store)
    assert [b["briefing_id"] for b in listed] == [brief_id] and listed[0]["final"]
    from xuncha import audit

    steps = [e.details.get("step") for e in audit.entries(store.root) if e.action == "briefing"]
    assert steps == ["draft", "final"]


def test_the_unit_chart_shows_the_lowest_units_when_there_are_many(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A province has thousands of units: the chart keeps the lowest RANKING_BARS and says
    so; the table beside it keeps every unit."""
    from xuncha import briefing, charts
    from xuncha.filters import Filters, resolve_scope

    monkeypatch.setattr(charts, "RANKING_BARS", 5)
    reader = open_reader(store)
    try:
        request = content.BriefingRequest(Filters(round_from=8, round_to=8, as_of=AS_OF))
        _, draft = briefing.generate(
            store, reader, request, lambda f: resolve_scope(reader, f), user="起草人",
            scope_text="全部",
        )  # fmt: skip
    finally:
        reader.close()
    progress = next(s for s in draft.sections if s.key == "progress")
    table = next(b for b in progress.blocks if isinstance(b, briefing.Table))
    chart = next(b for b in progress.blocks if isinstance(b, briefing.Chart))
    assert len(table.rows) > 5
    bars = chart.figure["data"][0]
    assert len(bars["x"]) == 5
    assert f"共{len(table.rows)}个" in chart.caption and "最低的5个单位" in chart.caption
    lowest = sorted(float(row[3]) for row in table.rows if row[3] is not None)[:5]
    assert sorted(float(x) for x in bars["x"]) == pytest.approx(lowest)


def test_the_archive_list_follows_a_changed_draft(tmp_path: Path) -> None:
    """The list's lines are kept between page runs only while the files are unchanged."""
    import json
    import os

    root = tmp_path / "store"
    folder = root / "briefings" / "20261125-101010-abcdef"
    folder.mkdir(parents=True)
    (folder / "request.json").write_text(
        json.dumps({"user": "甲", "data_version": 3, "created": "2026-11-25T10:10:10"}),
        encoding="utf-8",
    )
    draft = folder / "draft.json"
    draft.write_text(json.dumps({"title": "第一稿", "as_of": "2026-11-20"}), encoding="utf-8")
    store = Store(root)
    assert [b["title"] for b in archive.list_briefings(store)] == ["第一稿"]
    assert archive.list_briefings(store, user="乙") == []
    draft.write_text(json.dumps({"title": "第二稿改", "as_of": "2026-11-21"}), encoding="utf-8")
    stat = draft.stat()
    os.utime(draft, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    listed = archive.list_briefings(store)
    assert [(b["title"], b["as_of"], b["final"]) for b in listed] == [
        ("第二稿改", "2026-11-21", False)
    ]
    (folder / "final.docx").write_bytes(b"x")
    assert archive.list_briefings(store, user="甲")[0]["final"] is True


def test_unit_scope_limits_every_number(store: Store, tmp_path: Path) -> None:
    unit = "市统计局"
    out = tmp_path / "unit.docx"
    code, text = run(
        "briefing", "--db", str(store.root), "--round", ROUND, "--unit", unit,
        "--as-of", AS_OF.isoformat(), "--out", str(out),
    )  # fmt: skip
    assert code == 0, text
    body = body_text(docx.Document(str(out)))
    m = metrics(store, "--round", ROUND, "--unit", unit)
    assert f"共对1个单位（党组织）开展巡察，反馈问题{m['findings']}个" in body
    assert f"整改完成率{pct(m['completion_rate'])}" in body
    assert "市应急管理局" not in body  # another unit of the same round


def test_unknown_round_is_a_clear_error(store: Store, tmp_path: Path) -> None:
    code = cli.main(
        [
            "briefing",
            "--db",
            str(store.root),
            "--round",
            "第九十九轮",
            "--out",
            str(tmp_path / "x.docx"),
        ]
    )
    assert code == 1
    assert not (tmp_path / "x.docx").exists()

"""The export of online submissions: every claim of the scope in the chosen states, with its
evidence listed by name and SHA-256, under Chinese headers; written to .xlsx no cell is a
formula."""

from __future__ import annotations

import io
from typing import Any

import openpyxl

from xuncha import export
from xuncha.rectify import demo_activity, listing
from xuncha.store import Reader


def test_the_listing_holds_the_scopes_claims_with_their_evidence_by_name_and_hash(
    demo_reader: Reader,
) -> None:
    con = demo_reader.store.connect(demo_reader.version)
    try:
        unit_inspections = [
            int(i)
            for (i,) in con.execute(
                "SELECT inspection_id FROM rectify_submissions GROUP BY ALL"
                " ORDER BY count(*) DESC LIMIT 3"
            ).fetchall()
        ]
        expected = {
            int(sid): (files or "")
            for sid, files in con.execute(
                "SELECT s.submission_id, string_agg(e.file_name || ' ' || e.sha256, '；'"
                " ORDER BY e.position)"
                " FROM rectify_submissions s"
                " JOIN (SELECT submission_id, arg_max(state, step_id) AS state FROM rectify_steps"
                "       GROUP BY ALL) st USING (submission_id)"
                " LEFT JOIN submission_evidence e USING (submission_id)"
                " WHERE st.state IN ('pending_review', 'returned')"
                "   AND s.inspection_id IN (SELECT unnest(?::INTEGER[]))"
                " GROUP BY ALL",
                [unit_inspections],
            ).fetchall()
        }
    finally:
        con.close()
    table = listing.submissions_table(demo_reader, unit_inspections, ["pending_review", "returned"])
    assert (
        expected
        and dict(zip(table["填报编号"], table["佐证材料（文件名 SHA-256）"], strict=True))
        == expected
    )
    assert set(table["当前状态"]) <= {"待审核", "已退回"}
    sha = demo_activity.demo_evidence().sha256
    assert any(sha in text for text in table["佐证材料（文件名 SHA-256）"])


def test_the_listing_written_to_xlsx_has_no_formula(demo_reader: Reader) -> None:
    table = listing.submissions_table(demo_reader, None, ["returned"])
    hostile = table.with_columns(table["整改进展"].str.replace(r"^.*$", '=HYPERLINK("x")'))
    data = export.to_xlsx(
        hostile, export.ExportMeta(title="整改审核_已退回", scope="全部", user="t")
    )
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]
    kinds = {cell.data_type for row in sheet.iter_rows() for cell in row if cell.value}
    assert "f" not in kinds


def test_xuncha_online_prints_each_units_counts_and_totals_of_the_sums(
    demo_reader: Reader, capsys: Any
) -> None:
    import json

    from xuncha import cli

    assert cli.main(["online", "--db", str(demo_reader.store.root), "--as-of", "2026-11-20"]) == 0
    printed = json.loads(capsys.readouterr().out)
    con = demo_reader.store.connect(demo_reader.version)
    try:
        returns, decisions = con.execute(
            "SELECT count(*) FILTER (WHERE step = 'return'),"
            " count(*) FILTER (WHERE step IN ('pass', 'return'))"
            " FROM rectify_steps st JOIN rectify_submissions s USING (submission_id)"
            " WHERE s.kind = 'done' AND st.step_date <= DATE '2026-11-20'"
        ).fetchone()
    finally:
        con.close()
    total = printed["total"]
    assert (total["returns"], total["decisions"]) == (returns, decisions) and decisions > 0
    assert total["return_rate"] == round(100 * returns / decisions + 1e-9, 2)
    for key in ("submitted", "pending_review", "pending_close", "returns", "decisions", "closed"):
        assert total[key] == sum(u[key] for u in printed["units"]), key

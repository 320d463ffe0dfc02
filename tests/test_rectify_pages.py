"""The pages of online rectification through the real app (AppTest) on a copy of the demo data
marked real, with one account per role: a unit's liaison sees and reports only its own
measures (progress on several at once, done with an evidence file), a reviewer passes or
returns the claim, the office closes it; the navigation titles count the pending work; each
role reaches only its own pages. The helpers of xuncha/ui/rectify.py are checked directly."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from argon2 import PasswordHasher
from playwright.sync_api import Browser, Page, expect
from streamlit.testing.v1 import AppTest

from tests.builders import copy_store, plain_demo
from xuncha.auth import UserStore
from xuncha.store import Store
from xuncha.ui import rectify

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PASSWORD = "Xuncha-Test-2026"
UNIT = "市住建局"  # five open measures in the demo data, in two inspections
REPORT_PAGE = "pages/rectify_report.py"
REVIEW_PAGE = "pages/rectify_review.py"
CLOSE_PAGE = "pages/rectify_close.py"


def png_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def _real_and_without_online_activity(con: Any) -> None:
    """Marked real, and the demo's online activity removed: the pages start from no claim."""
    con.execute("UPDATE store_meta SET value = 'false' WHERE key = 'demo'")
    for table in ("submission_evidence", "rectify_steps", "rectify_submissions", "evidence_files"):
        con.execute(f"DELETE FROM {table}")


@pytest.fixture()
def real(demo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A copy of the demo data marked as a real store, with a liaison of UNIT, a reviewer
    (监督检查室), an approver (巡察办) and a leader."""
    target = tmp_path / "store"
    shutil.copytree(demo_store.root, target, ignore=shutil.ignore_patterns("*.lock"))
    store = Store(target)
    store.write(_real_and_without_online_activity)
    users = UserStore(target, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    users.add_user("u_liaison", "liaison", actor="test", password=PASSWORD, units=[UNIT])
    users.add_user("u_review", "supervisor", actor="test", password=PASSWORD)
    users.add_user("u_office", "office", actor="test", password=PASSWORD)
    monkeypatch.setenv("XUNCHA_DB", str(target))
    monkeypatch.delenv("XUNCHA_TRUSTED_USER_HEADER", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    rectify.forget_visible()
    yield store
    st.cache_data.clear()
    st.cache_resource.clear()
    rectify.forget_visible()


def signed_in(store: Store, user: str, page: str | None = None) -> AppTest:
    users = UserStore(store.root)
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["_token"] = users.start_session(users.access_for(user))
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def nav_titles(at: AppTest) -> set[str]:
    return {str(info.get("page_name")) for info in at._registered_pages.values()}


def rows(store: Store, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    con = store.connect()
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def open_measures_of_unit(store: Store) -> set[int]:
    return {
        int(r[0])
        for r in rows(
            store,
            "SELECT m.measure_id FROM measures m JOIN findings f USING (finding_id)"
            " JOIN units u ON u.unit_id = f.unit_id"
            " WHERE (u.short_name = ? OR u.name = ?) AND m.status <> 'DONE'",
            [UNIT, UNIT],
        )
    }


def shown_measures(at: AppTest) -> set[int]:
    table = next(d for d in at.dataframe if "预警" in d.value.columns)
    return {int(v) for v in table.value["措施编号"].tolist()}


def submissions(store: Store) -> list[tuple[object, ...]]:
    return rows(
        store,
        "SELECT s.submission_id, s.measure_id, s.kind, s.status, s.submitted_by,"
        " (SELECT arg_max(state, step_id) FROM rectify_steps t"
        "   WHERE t.submission_id = s.submission_id)"
        " FROM rectify_submissions s ORDER BY s.submission_id",
    )


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def report_done(at: AppTest, measure: int, files: list[tuple[str, bytes, str]]) -> AppTest:
    at.selectbox(key="rectify_done_measure").set_value(measure)
    state = at.session_state  # AppTest's session state has no .get()
    serial = state[rectify.SERIAL] if rectify.SERIAL in state else 0  # noqa: SIM401
    at.text_area(key=f"rectify_done_progress_{serial}").set_value("已建立制度并全面落实")
    at.file_uploader(key=f"rectify_done_files_{serial}").set_value(files)
    at.button(key="rectify_done_submit").click()
    return at.run()


def test_a_liaison_sees_only_its_units_measures_and_only_its_page(real: Store) -> None:
    at = signed_in(real, "u_liaison", REPORT_PAGE)
    no_errors(at)
    assert [t.value for t in at.title] == ["整改填报"]
    expected = open_measures_of_unit(real)
    assert expected and shown_measures(at) == expected
    # The whole list, done measures too, still only this unit's.
    at.toggle(key="rectify_report_all").set_value(True).run()
    everything = {
        int(r[0])
        for r in rows(
            real,
            "SELECT m.measure_id FROM measures m JOIN findings f USING (finding_id)"
            " JOIN units u ON u.unit_id = f.unit_id WHERE u.short_name = ? OR u.name = ?",
            [UNIT, UNIT],
        )
    }
    assert shown_measures(at) == everything and len(everything) > len(expected)
    assert nav_titles(at) == {"整改填报", "预警提醒"}
    for page in (REVIEW_PAGE, CLOSE_PAGE, "pages/progress.py"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)


def test_a_reviewer_sees_no_report_page_and_the_office_no_review_page(real: Store) -> None:
    review = signed_in(real, "u_review")
    assert "整改审核" in nav_titles(review)
    assert not {"整改填报", "整改销号"} & nav_titles(review)
    office = signed_in(real, "u_office")
    assert "整改销号" in nav_titles(office)
    assert not {"整改填报", "整改审核"} & nav_titles(office)


def test_progress_on_two_measures_from_the_editor_lands_as_two_submissions(real: Store) -> None:
    chosen = sorted(open_measures_of_unit(real))[:2]
    at = signed_in(real, "u_liaison", REPORT_PAGE)
    frame = next(d for d in at.data_editor if d.key == "rectify_progress_0").value
    positions = [int(i) for i in frame.index[frame["措施编号"].isin(chosen)]]
    # The editor is seeded with the cells the liaison edits (AppTest types into no editor).
    at.session_state["rectify_progress_0"] = {
        "edited_rows": {
            positions[0]: {"新状态": "阶段性完成", "整改进展": "已完成制度修订"},
            positions[1]: {"新状态": "未完成", "整改进展": "等待上级批复"},
        },
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    at.button(key="rectify_progress_submit").click().run()
    no_errors(at)
    assert any("已提交 2 条填报" in s.value for s in at.success)
    made = submissions(real)
    assert [(m, k, s, by, state) for _, m, k, s, by, state in made] == [
        (chosen[0], "progress", "PHASED", "u_liaison", "recorded"),
        (chosen[1], "progress", "NOT_DONE", "u_liaison", "recorded"),
    ]
    status = dict(
        rows(real, "SELECT measure_id, status FROM measures WHERE measure_id IN (?, ?)", chosen)
    )
    assert status == {chosen[0]: "PHASED", chosen[1]: "NOT_DONE"}


def test_a_half_filled_row_is_refused_and_nothing_is_written(real: Store) -> None:
    at = signed_in(real, "u_liaison", REPORT_PAGE)
    at.session_state["rectify_progress_0"] = {
        "edited_rows": {0: {"新状态": "正在整改"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    at.button(key="rectify_progress_submit").click().run()
    assert any("未填写整改进展" in e.value for e in at.error)
    assert submissions(real) == []


def test_done_claim_passes_review_and_is_closed_with_the_counts_following(real: Store) -> None:
    measure = sorted(open_measures_of_unit(real))[0]
    liaison = signed_in(real, "u_liaison", REPORT_PAGE)
    # A refused file is named, and nothing is submitted.
    report_done(liaison, measure, [("照片.png", b"", "image/png")])
    assert submissions(real) == []
    report_done(liaison, measure, [("整改照片.png", png_bytes(), "image/png")])
    no_errors(liaison)
    assert any("待审核" in s.value for s in liaison.success)
    [(sid, m, kind, status, by, state)] = submissions(real)
    assert (m, kind, status, by, state) == (measure, "done", "DONE", "u_liaison", "pending_review")
    # Not done while it waits for review.
    assert rows(real, "SELECT status FROM measures WHERE measure_id = ?", [measure]) != [("DONE",)]

    review = signed_in(real, "u_review", REVIEW_PAGE)
    assert "整改审核（1）" in nav_titles(review)
    assert review.selectbox(key="review_pick").value == sid
    assert any("整改照片" in b.label for b in review.get("download_button"))
    review.button(key="review_pass").click().run()
    no_errors(review)
    assert submissions(real)[0][5] == "pending_close"
    assert "整改审核" in nav_titles(review)  # no count left

    office = signed_in(real, "u_office", CLOSE_PAGE)
    assert "整改销号（1）" in nav_titles(office)
    assert office.selectbox(key="close_pick").value == sid
    office.button(key="close_close").click().run()
    no_errors(office)
    assert submissions(real)[0][5] == "closed"
    assert rows(real, "SELECT status FROM measures WHERE measure_id = ?", [measure]) == [("DONE",)]
    assert "整改销号" in nav_titles(office)
    # The liaison's open list no longer holds it.
    again = signed_in(real, "u_liaison", REPORT_PAGE)
    assert measure not in shown_measures(again)


def test_a_return_needs_a_reason_and_the_unit_sees_it_counted(real: Store) -> None:
    measure = sorted(open_measures_of_unit(real))[1]
    liaison = signed_in(real, "u_liaison", REPORT_PAGE)
    report_done(liaison, measure, [("佐证.png", png_bytes(), "image/png")])
    no_errors(liaison)
    review = signed_in(real, "u_review", REVIEW_PAGE)
    review.button(key="review_return").click().run()
    assert any("退回须填写理由" in e.value for e in review.error)
    assert submissions(real)[0][5] == "pending_review"
    review.text_area(key="review_reason_0").set_value("照片不能证明整改到位")
    review.button(key="review_return").click().run()
    no_errors(review)
    assert submissions(real)[0][5] == "returned"
    back = signed_in(real, "u_liaison", REPORT_PAGE)
    assert "整改填报（1）" in nav_titles(back)
    assert any("照片不能证明整改到位" in w.value for w in back.warning)
    # 整改进度 counts the return: one return of one review decision.
    progress = signed_in(real, "u_office")
    progress.query_params["asof"] = dt.date.today().isoformat()
    progress.switch_page("pages/progress.py").run()
    no_errors(progress)
    shown = {m.label: m.value for m in progress.metric}
    assert (shown["待审核"], shown["退回次数"], shown["退回率"]) == ("0", "1", "100.00%")


def test_an_extension_is_asked_for_and_rejected_only_with_a_reason(real: Store) -> None:
    liaison = signed_in(real, "u_liaison", REPORT_PAGE)
    measure = int(liaison.selectbox(key="rectify_extend_measure").value)
    current = rows(real, "SELECT deadline_current FROM measures WHERE measure_id = ?", [measure])
    today = dt.date.today()
    liaison.date_input(key="rectify_extend_date_0").set_value(
        max(current[0][0], today) + dt.timedelta(days=60)
    )
    liaison.text_area(key="rectify_extend_reason_0").set_value("需上级部门批复")
    liaison.button(key="rectify_extend_submit").click().run()
    no_errors(liaison)
    office = signed_in(real, "u_office", CLOSE_PAGE)
    assert "整改销号（1）" in nav_titles(office)
    office.button(key="extension_reject").click().run()
    assert any("不予延期须填写理由" in e.value for e in office.error)
    office.text_area(key="extension_reason_0").set_value("理由不充分")
    office.button(key="extension_reject").click().run()
    no_errors(office)
    [(_, m, kind, _, by, state)] = submissions(real)
    assert (m, kind, by, state) == (measure, "extension", "u_liaison", "extension_rejected")
    after = rows(real, "SELECT deadline_current FROM measures WHERE measure_id = ?", [measure])
    assert after == current


# -- the helpers ----------------------------------------------------------------------------


def test_progress_reports_read_only_filled_rows_and_name_half_filled_ones() -> None:
    reports, problems = rectify.progress_reports(
        [
            {"措施编号": 1, "新状态": "阶段性完成", "整改进展": " 已修订 "},
            {"措施编号": 2, "新状态": None, "整改进展": None},
            {"措施编号": 3, "新状态": "未完成", "整改进展": float("nan")},
            {"措施编号": 4, "新状态": None, "整改进展": "写了进展"},
        ]
    )
    assert [(r.measure_id, r.status, r.progress) for r in reports] == [(1, "PHASED", "已修订")]
    assert problems == [
        "措施 3 选择了新状态，但未填写整改进展",
        "措施 4 填写了整改进展，但未选择新状态",
    ]


def test_check_uploads_keeps_good_files_and_names_the_refused() -> None:
    accepted, refused = rectify.check_uploads([("a.png", png_bytes()), ("空.pdf", b"")])
    assert [a.file_name for a in accepted] == ["a.png"]
    assert len(refused) == 1 and "空.pdf" in refused[0]


def test_titles_carry_a_count_only_when_there_is_work() -> None:
    assert rectify.titled("整改审核", 3) == "整改审核（3）"
    assert rectify.titled("整改审核", 0) == "整改审核"


# -- in a real browser ----------------------------------------------------------------------

SHOTS = Path("/tmp/shots19")


def _shots(page: Page, name: str) -> None:
    """The page at 1440×900 and 820×1180 (for the lead to look at; not committed)."""
    from tests.browser_support import shot

    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1440, 900), (820, 1180)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(600)  # let the layout settle (a screenshot, not a check)
        page.screenshot(path=str(SHOTS / f"{name}_{width}x{height}.png"))
    page.set_viewport_size(shot.VIEWPORT)


@pytest.mark.browser
def test_in_a_browser_a_unit_reports_done_with_a_png_then_review_and_close(
    browser: Browser, tmp_path: Path, store_template: Any
) -> None:
    from tests.browser_support import shot

    path = tmp_path / "store"
    store = copy_store(store_template("demo", plain_demo), path)
    store.write(_real_and_without_online_activity)
    users = UserStore(path, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    users.add_user("u_liaison", "liaison", actor="test", password=PASSWORD, units=[UNIT])
    users.add_user("u_review", "supervisor", actor="test", password=PASSWORD)
    users.add_user("u_office", "office", actor="test", password=PASSWORD)
    evidence_file = tmp_path / "整改照片.png"
    evidence_file.write_bytes(png_bytes())

    def session(base: str, name: str, landing: str) -> Page:
        context = browser.new_context(**shot.CONTEXT_OPTIONS)
        context.set_default_timeout(60_000)
        page = context.new_page()
        page.goto(base + "/", wait_until="domcontentloaded")
        page.get_by_label("用户名").fill(name)
        page.get_by_label("密码", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page.locator("h1", has_text=landing)).to_be_visible()
        return page

    def open_nav(page: Page, title: str, heading: str) -> None:
        nav = page.get_by_test_id("stSidebarNav")
        nav.get_by_text(title, exact=True).click()
        expect(page.locator("h1", has_text=heading)).to_be_visible()

    with shot.serve(path) as base:
        liaison = session(base, "u_liaison", "整改填报")
        # Its two pages only: 整改填报 and 预警提醒.
        nav = liaison.get_by_test_id("stSidebarNav")
        expect(nav.get_by_role("link")).to_have_count(2)
        expect(nav.get_by_text("预警提醒", exact=True)).to_be_visible()
        _shots(liaison, "1_liaison_report")
        liaison.get_by_role("tab", name="报完成").click()
        liaison.get_by_label("整改完成情况").fill("已建立制度并全面落实")
        liaison.get_by_label("佐证材料（可多个；PDF、图片、Word、Excel）").get_by_test_id(
            "stFileUploaderDropzoneInput"
        ).set_input_files(str(evidence_file))
        expect(liaison.get_by_text("整改照片.png")).to_be_visible()
        liaison.get_by_role("button", name="报完成").click()
        expect(liaison.get_by_text("其中 1 条报完成，待审核")).to_be_visible()
        _shots(liaison, "2_liaison_after_done")

        reviewer = session(base, "u_review", "关注事项")
        open_nav(reviewer, "整改审核（1）", "整改审核")
        expect(reviewer.get_by_role("button", name="下载 整改照片.png")).to_be_visible()
        _shots(reviewer, "3_reviewer_queue")
        reviewer.get_by_role("button", name="审核通过").click()
        expect(reviewer.get_by_text("审核通过，待销号")).to_be_visible()

        approver = session(base, "u_office", "关注事项")
        open_nav(approver, "整改销号（1）", "整改销号")
        _shots(approver, "4_approver_queue")
        approver.get_by_role("button", name="销号", exact=True).click()
        expect(approver.get_by_text("已销号").first).to_be_visible()
        _shots(approver, "5_approver_closed")
    con = store.connect()
    try:
        states = con.execute(
            "SELECT arg_max(state, step_id) FROM rectify_steps GROUP BY submission_id"
        ).fetchall()
    finally:
        con.close()
    assert states == [("closed",)]


def test_the_excel_round_trip_on_the_page_goes_to_review_not_to_done(real: Store) -> None:
    """整改填报's Excel tab: the unit's workbook filled in (one progress row, one 已完成 row
    naming its evidence), uploaded with the file, checked, previewed, then submitted: the
    done row is a claim 待审核 from source 'excel', and the measure is not DONE."""
    from tests.test_rectify_roundtrip import Filled
    from xuncha.rectify import roundtrip
    from xuncha.store import open_reader

    users = UserStore(real.root)
    who = users.access_for("u_liaison")
    reader = open_reader(real)
    try:
        _, workbook = roundtrip.open_measures_workbook(real, reader, who, today=dt.date.today())
    finally:
        reader.close()
    first, second = sorted(open_measures_of_unit(real))[:2]
    filled = Filled(workbook)
    filled.report(first, status="正在整改", progress="正在修订制度")
    filled.report(
        second,
        status="已完成",
        progress="已全部整改到位",
        completed=dt.date.today(),
        files="整改照片.png",
    )
    upload = filled.save()
    at = signed_in(real, "u_liaison", REPORT_PAGE)
    assert any(b.label.startswith("下载本单位未完成措施填报表") for b in at.get("download_button"))
    serial = 0
    at.file_uploader(key=f"rectify_round_trip_file_{serial}").set_value(
        [
            (
                "填报表.xlsx",
                upload,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )
        ]
    )
    at.file_uploader(key=f"rectify_round_trip_files_{serial}").set_value(
        [("整改照片.png", png_bytes(), "image/png")]
    )
    at.run()
    at.button(key="rectify_round_trip_check").click().run()
    no_errors(at)
    assert any("可以提交：2 条" in s.value for s in at.success)
    at.button(key="rectify_round_trip_submit").click().run()
    no_errors(at)
    made = rows(
        real,
        "SELECT s.measure_id, s.kind, s.source, s.source_file,"
        " (SELECT arg_max(state, step_id) FROM rectify_steps t"
        "   WHERE t.submission_id = s.submission_id)"
        " FROM rectify_submissions s WHERE s.source = 'excel' ORDER BY s.measure_id",
    )
    assert made == [
        (first, "progress", "excel", "填报表.xlsx", "recorded"),
        (second, "done", "excel", "填报表.xlsx", "pending_review"),
    ]
    assert rows(real, "SELECT status FROM measures WHERE measure_id = ?", [second]) != [("DONE",)]

"""Administration through the pages (AppTest, real store): an administrator edits the ecology
weights (saved beside the data, audited, used by every later score; others see it read-only),
creates a user whose password is shown once, and disables one; an unexpected error shows an
incident id and nothing else; the deployment configuration is what DOMAIN §7 asks."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.builders import real_copy
from tests.conftest import AS_OF
from xuncha import audit, figures
from xuncha.auth import UserStore
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Store, open_reader

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PASSWORD = "Xuncha-Test-2026"


@pytest.fixture()
def real(demo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    target = tmp_path / "store"
    store, users = real_copy(demo_store, target)
    users.add_user("boss", "admin", actor="test", password=PASSWORD)
    users.add_user("lead", "leader", actor="test", password=PASSWORD)
    monkeypatch.setenv("XUNCHA_DB", str(target))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield store
    st.cache_data.clear()
    st.cache_resource.clear()


def signed_in(store: Store, name: str, page: str) -> AppTest:
    users = UserStore(store.root)
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["asof"] = AS_OF.isoformat()
    at.session_state["_token"] = users.start_session(users.access_for(name))
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_an_administrator_changes_a_weight_and_every_later_score_uses_it(real: Store) -> None:
    before = figures.config_for_store(real.root)
    at = signed_in(real, "boss", "pages/ecology_config.py")
    assert at.title[0].value == "研判配置"
    at.number_input(key="eco_w_R").set_value(50.0)
    next(b for b in at.button if b.label == "保存配置").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    path = figures.store_config_path(real.root)
    assert tomllib.loads(path.read_text(encoding="utf-8"))["weights"]["R"] == 50.0
    after = figures.config_for_store(real.root)
    assert after.weights["R"] == 50.0 and after.digest() != before.digest()
    change = [e for e in audit.entries(real.root) if e.action == "config_change"][-1]
    assert change.user == "boss"
    assert (change.details["old_digest"], change.details["new_digest"]) == (
        before.digest(),
        after.digest(),
    )
    # A score is the weighted mean of the dimension scores: recompute one unit by hand.
    reader = open_reader(real)
    try:
        scope = resolve_scope(reader, Filters(round_from=8, round_to=8, as_of=AS_OF))
        cards = figures.scorecards(reader, scope, after)
    finally:
        reader.close()
    row = cards.units.filter(~cards.units["small_sample"]).row(0, named=True)
    used = [d for d in ("P", "R", "D", "X", "S") if row[f"dimension_{d}"] is not None]
    weights = {d: after.weights[d] for d in used}
    by_hand = sum(row[f"dimension_{d}"] * w for d, w in weights.items()) / sum(weights.values())
    assert row["score"] == pytest.approx(by_hand, abs=0.01)
    assert cards.config_digest == after.digest()


def test_a_leader_sees_the_configuration_read_only(real: Store) -> None:
    at = signed_in(real, "lead", "pages/ecology.py")
    assert any("修改配置仅限管理员" in c.value for c in at.caption)
    assert not [b for b in at.button if b.label == "保存配置"]
    with pytest.raises(KeyError):
        at.number_input(key="eco_w_R")


def test_a_refused_edit_says_why_and_a_reset_returns_to_the_defaults(real: Store) -> None:
    at = signed_in(real, "boss", "pages/ecology_config.py")
    path = figures.store_config_path(real.root)
    at.number_input(key="eco_w_R").set_value(40.0)
    next(b for b in at.button if b.label == "保存配置").click()
    at.run()
    assert path.is_file()
    # “较好” above “好”: refused in Chinese, nothing written.
    before = path.read_bytes()
    next(n for n in at.number_input if n.label == "“较好”不低于").set_value(90.0)
    next(b for b in at.button if b.label == "保存配置").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("等次线须满足" in e.value for e in at.error)
    assert path.read_bytes() == before
    at.button(key="eco_reset").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not path.exists()
    assert any("已恢复默认配置" in s.value for s in at.success)
    changes = [e for e in audit.entries(real.root) if e.action == "config_change"]
    assert [bool(e.details.get("reset")) for e in changes] == [False, True]
    assert changes[-1].details["new_digest"] == figures.EcologyConfig.load(None).digest()


def test_the_ecology_page_sends_an_administrator_to_the_configuration_page(real: Store) -> None:
    at = signed_in(real, "boss", "pages/ecology.py")
    assert any("可在“研判配置”页修改" in c.value for c in at.caption)
    links = [(link.proto.label, link.proto.page) for link in at.get("page_link")]
    assert links == [("修改研判配置", "ecology_config")]
    with pytest.raises(KeyError):
        at.number_input(key="eco_w_R")


def test_an_administrator_previewing_a_leader_gets_no_configuration_page(real: Store) -> None:
    users = UserStore(real.root)
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["asof"] = AS_OF.isoformat()
    at.session_state["_token"] = users.start_session(users.access_for("boss"))
    at.session_state["_preview_as"] = "lead"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    try:
        at.switch_page("pages/ecology_config.py")
    except ValueError as exc:
        assert "Could not find a navigation page" in str(exc)
    else:
        at.run()
    assert "研判配置" not in [t.value for t in at.title]
    with pytest.raises(KeyError):
        at.number_input(key="eco_w_R")


def test_an_administrator_creates_and_disables_a_user(real: Store) -> None:
    at = signed_in(real, "boss", "pages/admin.py")
    assert at.title[0].value == "用户管理"
    at.selectbox(key="admin_new_role").set_value("viewer")
    at.run()
    at.text_input(key="admin_new_name").set_value("newbie")
    at.text_input(key="admin_new_display").set_value("新同志")
    next(b for b in at.button if b.label.startswith("创建")).click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [s.value for s in at.success if "只显示这一次" in s.value]
    assert shown, [s.value for s in at.success]
    password = shown[0].split("`")[1]
    users = UserStore(real.root)
    assert users.authenticate("newbie", password).ok
    at.run()
    assert not [s for s in at.success if "只显示这一次" in s.value], "shown once"
    at.selectbox(key="admin_pick").set_value("newbie")
    at.run()
    next(b for b in at.button if b.label.startswith("停用")).click()
    at.run()
    user = users.get("newbie")
    assert user is not None and user.disabled
    actions = [(e.user, e.action) for e in audit.entries(real.root)]
    assert ("boss", "user_add") in actions and ("boss", "user_disable") in actions


def test_an_unexpected_error_shows_an_incident_id_only(real: Store) -> None:
    def app() -> None:
        import streamlit as st

        from xuncha import ui
        from xuncha.auth import Access

        ui.reader()
        st.session_state["_access"] = Access.system("tester")
        st.session_state["_via_proxy"] = True  # no session to check in this bare script
        try:
            raise RuntimeError("secret path /srv/xuncha/store")
        except RuntimeError as exc:
            ui.incident(exc)

    at = AppTest.from_function(app, default_timeout=60)
    at.run()
    assert not at.exception
    message = at.error[0].value
    assert "事件编号" in message and "secret" not in message and "/srv" not in message
    code = message.split("事件编号 ")[1][:8]
    recorded = [e for e in audit.entries(real.root) if e.action == "error"]
    assert recorded and recorded[-1].details["incident"] == code


def test_the_deployment_configuration_hides_errors_and_sends_nothing_out() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] == "none"
    assert config["server"]["enableXsrfProtection"] is True
    from xuncha.ledger import LedgerLimits

    assert config["server"]["maxUploadSize"] * 1024 * 1024 == LedgerLimits().max_file_bytes
    nginx = (ROOT / "deploy" / "nginx" / "xuncha.conf").read_text(encoding="utf-8")
    assert "client_max_body_size 20m" in nginx


def _create(at: AppTest) -> AppTest:
    next(b for b in at.button if b.label.startswith("创建")).click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_an_administrator_creates_a_liaison_of_exactly_one_unit(real: Store) -> None:
    at = signed_in(real, "boss", "pages/admin.py")
    at.selectbox(key="admin_new_role").set_value("liaison")
    at.run()
    # One unit, chosen from a list (not several), and rounds that may be left open.
    assert at.selectbox(key="admin_new_unit").label == "所属单位（必选，只能一个）"
    assert at.multiselect(key="admin_new_liaison_rounds")
    assert any("只能查看和填报本单位的整改措施" in c.value for c in at.caption)
    at.text_input(key="admin_new_name").set_value("lx")
    _create(at)
    assert any("须限定且只能限定一个单位（未限定单位）" in e.value for e in at.error)
    at.text_input(key="admin_new_name").set_value("lx")
    at.selectbox(key="admin_new_unit").set_value("江城市财政局党组")
    at.multiselect(key="admin_new_liaison_rounds").set_value(["十四届市委第二轮巡察（专项巡察）"])
    _create(at)
    assert any(
        "十四届市委第二轮巡察（专项巡察）未巡察江城市财政局党组" in e.value for e in at.error
    )
    users = UserStore(real.root)
    assert users.get("lx") is None
    at.text_input(key="admin_new_name").set_value("lx")
    at.selectbox(key="admin_new_unit").set_value("江城市财政局党组")
    at.multiselect(key="admin_new_liaison_rounds").set_value(["十四届市委第一轮巡察"])
    _create(at)
    assert any("只显示这一次" in s.value for s in at.success)
    created = users.access_for("lx")
    assert created.role == "liaison"
    assert created.units == ("江城市财政局党组",) and created.rounds == ("十四届市委第一轮巡察",)
    table = at.dataframe[0].value
    row = table[table["用户名"] == "lx"]
    assert row["角色"].tolist() == ["被巡察单位联络员"]
    assert row["可见范围"].tolist() == ["江城市财政局党组；十四届市委第一轮巡察"]


def test_changing_a_group_user_into_a_liaison_asks_for_its_one_unit(real: Store) -> None:
    users = UserStore(real.root)
    users.add_user(
        "grp", "group", actor="test", password=PASSWORD,
        rounds=["十四届市委第七轮巡察"], units=["江城市财政局党组", "江城市教育局党组"],
    )  # fmt: skip
    at = signed_in(real, "boss", "pages/admin.py")
    at.selectbox(key="admin_pick").set_value("grp")
    at.run()
    at.selectbox(key="admin_role_grp").set_value("liaison")
    at.run()
    # The scope fields follow the role chosen: one unit, not pre-filled from two.
    unit = at.selectbox(key="admin_edit_grp_liaison_unit")
    assert unit.value is None
    assert at.multiselect(key="admin_edit_grp_liaison_liaison_rounds").value == [
        "十四届市委第七轮巡察"
    ]
    save = next(b for b in at.button if b.label == "保存角色和范围")
    save.click()
    at.run()
    assert any("须限定且只能限定一个单位（未限定单位）" in e.value for e in at.error)
    assert users.access_for("grp").role == "group"
    # The rounds kept from the group must have inspected the unit chosen.
    at.selectbox(key="admin_edit_grp_liaison_unit").set_value("江城市教育局党组")
    next(b for b in at.button if b.label == "保存角色和范围").click()
    at.run()
    assert any("十四届市委第七轮巡察未巡察江城市教育局党组" in e.value for e in at.error)
    assert users.access_for("grp").role == "group"
    at.selectbox(key="admin_edit_grp_liaison_unit").set_value("江城市财政局党组")
    next(b for b in at.button if b.label == "保存角色和范围").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    changed = users.access_for("grp")
    assert changed.role == "liaison" and changed.units == ("江城市财政局党组",)
    assert changed.rounds == ("十四届市委第七轮巡察",)
    change = [e for e in audit.entries(real.root) if e.action == "permission_change"][-1]
    assert change.user == "boss" and change.details["role_before"] == "group"


def test_the_role_picker_offers_every_role_by_its_chinese_name(real: Store) -> None:
    at = signed_in(real, "boss", "pages/admin.py")
    options = at.selectbox(key="admin_new_role").options
    assert "被巡察单位联络员" in options and "监督检查室" in options
    at.selectbox(key="admin_new_role").set_value("supervisor")
    at.run()
    assert at.multiselect(key="admin_new_units") and at.multiselect(key="admin_new_rounds")
    assert any("审核整改填报" in c.value for c in at.caption)
    at.text_input(key="admin_new_name").set_value("sup")
    _create(at)
    assert UserStore(real.root).access_for("sup").role == "supervisor"


def test_with_many_units_the_scope_pickers_search_and_send_a_few(
    real: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A province's unit list is searched (outside the form, so the search reruns the page):
    at most PICKER_CAP units go to the browser, and the one found is the scope saved."""
    from xuncha.ui import unit_picker

    monkeypatch.setattr(unit_picker, "PICKER_LIST_ALL", 5)
    monkeypatch.setattr(unit_picker, "PICKER_CAP", 3)
    at = signed_in(real, "boss", "pages/admin.py")
    at.selectbox(key="admin_new_role").set_value("group")
    at.run()
    units = at.multiselect(key="admin_new_units")
    assert len(units.options) == 3 and "江城市财政局党组" not in units.options
    at.text_input(key="admin_new_units_search").set_value("财政")
    at.run()
    assert at.multiselect(key="admin_new_units").options == ["江城市财政局党组"]
    at.multiselect(key="admin_new_units").set_value(["江城市财政局党组"])
    at.text_input(key="admin_new_units_search").set_value("教育")
    at.run()  # the unit chosen stays among the options beside the new matches
    assert at.multiselect(key="admin_new_units").value == ["江城市财政局党组"]
    assert "江城市教育局党组" in at.multiselect(key="admin_new_units").options
    at.text_input(key="admin_new_name").set_value("zf")
    _create(at)
    assert any("只显示这一次" in s.value for s in at.success)
    assert UserStore(real.root).access_for("zf").units == ("江城市财政局党组",)
    assert at.multiselect(key="admin_new_units").value == []  # the next user starts empty

    at.selectbox(key="admin_new_role").set_value("liaison")
    at.run()
    assert at.selectbox(key="admin_new_unit").value is None  # none chosen by default
    at.text_input(key="admin_new_unit_search").set_value("教育")
    at.run()
    assert at.selectbox(key="admin_new_unit").options == ["江城市教育局党组"]
    at.selectbox(key="admin_new_unit").set_value("江城市教育局党组")
    at.text_input(key="admin_new_name").set_value("jy")
    _create(at)
    assert UserStore(real.root).access_for("jy").units == ("江城市教育局党组",)

"""用户管理: accounts, roles and scopes, disable/enable, reset passwords (shown once), and
"preview as" a user to see exactly what they see. Every change is made through the user store,
which records it in the audit trail."""

import polars as pl
import streamlit as st

from xuncha import labels, ui
from xuncha.auth import MANAGE_USERS, ROLES, VIEW_PAGES, AuthError
from xuncha.auth.access import ONE_UNIT, ROLE_PERMISSIONS, SCOPE_ALLOWED, scope_text
from xuncha.auth.scope import check_unit_rounds

ui.require(MANAGE_USERS, own=True)
me = ui.signed_in()
users = ui.users()
reader = ui.reader()
st.title("用户管理")
st.caption(
    "账号、角色和可见范围。巡察组账号必须限定轮次或单位；被巡察单位联络员必须限定一个单位；"
    "监督检查室、案管、只读账号可以限定。"
    "新密码只显示一次，请当面或通过安全渠道交给本人。所有修改记入审计日志。"
)
# What each role's scope must be, under its scope fields.
ROLE_NOTES = {
    "group": "巡察组账号必须至少限定轮次或单位之一。",
    "liaison": "被巡察单位联络员必须选择且只能选择一个单位；轮次可不选（即巡察过该单位的各轮次）。"
    "该账号只能查看和填报本单位的整改措施，看不到其他单位、问题线索、评分和排名。",
    "supervisor": "监督检查室可查看数据并审核整改填报；可以限定轮次或单位。",
}

shown = st.session_state.pop("_admin_password", None)
if shown:
    st.success(
        f"用户 **{ui.md(shown[0])}** 的初始密码（只显示这一次）：`{shown[1]}`",
        icon=":material/key:",
    )
done = st.session_state.pop("_admin_done", None)
if done:
    st.success(ui.md(done), icon=":material/check_circle:")

round_names = reader.query("rounds_list")["name"].to_list()
# A user's scope names units (check_unit_rounds reads the names): each unit's name is both
# the picker's value and its label.
unit_labels = {name: name for name in reader.query("units_list")["name"].to_list()}
listed = users.list_users()
if listed:
    frame = pl.DataFrame(
        [
            {
                "用户名": u.name,
                "姓名": u.display_name,
                "角色": u.role_label,
                "可见范围": scope_text(u.role, u.rounds, u.units),
                "状态": "已停用" if u.disabled else "正常",
                "最近登录": labels.shown_time(u.last_login_at),
            }
            for u in listed
        ]
    )
    ui.table(frame, key="admin_users", raw=True)
else:
    st.info("还没有用户。")


def scope_fields(prefix: str, role: str, rounds=None, units=None):  # type: ignore[no-untyped-def]
    """The scope widgets the role takes (none, one unit and rounds, or rounds and units);
    the store refuses what the role cannot have (check_scope) whatever the widgets allow.
    Outside a form: a province's unit list is searched (ui.unit_selectbox, unit_multiselect:
    a few matches sent to the browser, not every unit), and a search needs its rerun."""
    if role not in SCOPE_ALLOWED:
        if VIEW_PAGES in ROLE_PERMISSIONS[role]:
            st.caption(f"{ROLES[role]}的可见范围为全部轮次和单位。")
        else:
            st.caption(f"{ROLES[role]}不查看业务数据，无需设定范围。")
        return None, None
    # Only names the store still has: a stale name in a default would fail the widget.
    kept_rounds = [r for r in (rounds or []) if r in round_names]
    if role in ONE_UNIT:
        # Pre-filled only from a one-unit scope: a group of several units turned liaison
        # must have its unit chosen, never the first of them by default.
        current = units[0] if units and len(units) == 1 and units[0] in unit_labels else None
        key = f"{prefix}_unit"
        if current is not None:
            st.session_state.setdefault(key, current)
        # No unit chosen yet: none shown chosen (not the first of the list).
        unset = {} if st.session_state.get(key) in unit_labels else {"index": None}
        picked_unit = ui.unit_selectbox(
            "所属单位（必选，只能一个）", unit_labels, key=key, placeholder="请选择单位", **unset
        )
        picked_rounds = st.multiselect(
            "轮次（不选为巡察过该单位的各轮次）",
            round_names,
            default=kept_rounds,
            key=f"{prefix}_liaison_rounds",
            placeholder="巡察过该单位的各轮次",
        )
        return (picked_rounds or None), ((picked_unit,) if picked_unit else None)
    picked_rounds = st.multiselect(
        "可见轮次（不选为全部）",
        round_names,
        default=kept_rounds,
        key=f"{prefix}_rounds",
        placeholder="全部",
    )
    st.session_state.setdefault(f"{prefix}_units", [u for u in (units or []) if u in unit_labels])
    picked_units = ui.unit_multiselect(
        "可见单位（不选为全部）", unit_labels, key=f"{prefix}_units", placeholder="全部"
    )
    return (picked_rounds or None), (picked_units or None)


def role_note(role: str) -> None:
    if role in ROLE_NOTES:
        st.caption(ROLE_NOTES[role])


with st.expander("新增用户", icon=":material/person_add:", expanded=not listed):
    role = st.selectbox("角色", list(ROLES), format_func=lambda r: ROLES[r], key="admin_new_role")
    rounds, units = scope_fields("admin_new", role)
    role_note(role)
    with st.form("admin_new", clear_on_submit=True):
        name = st.text_input("用户名", max_chars=32, key="admin_new_name")
        display = st.text_input("姓名", max_chars=32, key="admin_new_display")
        create = st.form_submit_button("创建（生成初始密码）", type="primary")
    if create:
        try:
            check_unit_rounds(reader, role, rounds, units)
            password = users.add_user(
                name,
                role,
                actor=me.user,
                rounds=rounds,
                units=units,
                display_name=display or None,
            )
        except AuthError as exc:
            ui.show_error(exc)
        else:
            st.session_state["_admin_password"] = (name, password)
            # The next new user starts from an empty scope, as from empty fields.
            for key in [k for k in st.session_state if str(k).startswith("admin_new_")]:
                if key != "admin_new_role":
                    del st.session_state[key]
            st.rerun()

if listed:
    st.subheader("修改用户")
    names = [u.name for u in listed]
    target_name = st.selectbox(
        "选择用户",
        names,
        format_func=lambda n: next(
            f"{u.display_name}（{n}，{u.role_label}）" for u in listed if u.name == n
        ),
        key="admin_pick",
    )
    target = next(u for u in listed if u.name == target_name)
    cols = st.columns(2)
    with cols[0]:
        # Outside the form, as for a new user: the scope fields follow the role chosen.
        new_role = st.selectbox(
            "角色",
            list(ROLES),
            index=list(ROLES).index(target.role) if target.role in ROLES else None,
            format_func=lambda r: ROLES[r],
            key=f"admin_role_{target.name}",
        )
    with cols[0]:
        if new_role is not None:
            rounds, units = scope_fields(
                f"admin_edit_{target.name}_{new_role}", new_role, target.rounds, target.units
            )
            role_note(new_role)
        save = st.button("保存角色和范围", key="admin_edit_save")
    if save and new_role is not None:
        try:
            check_unit_rounds(reader, new_role, rounds, units)
            if new_role != target.role:
                users.set_role(target.name, new_role, actor=me.user, scope=(rounds, units))
            else:
                users.set_scope(target.name, rounds, units, actor=me.user)
        except AuthError as exc:
            ui.show_error(exc)
        else:
            st.session_state["_admin_done"] = f"已保存 {target.name} 的角色和范围。"
            st.rerun()
    with cols[1]:
        if st.button("重置密码（生成新密码）", key="admin_reset", icon=":material/lock_reset:"):
            try:
                password = users.set_password(target.name, actor=me.user)
            except AuthError as exc:
                ui.show_error(exc)
            else:
                st.session_state["_admin_password"] = (target.name, password)
                st.rerun()
        if target.disabled:
            if st.button("启用", key="admin_enable", icon=":material/person_check:"):
                try:
                    users.enable(target.name, actor=me.user)
                except AuthError as exc:
                    ui.show_error(exc)
                else:
                    st.session_state["_admin_done"] = f"已启用 {target.name}。"
                    st.rerun()
        elif st.button("停用（立即结束其会话）", key="admin_disable", icon=":material/person_off:"):
            try:
                users.disable(target.name, actor=me.user)
            except AuthError as exc:
                ui.show_error(exc)
            else:
                st.session_state["_admin_done"] = f"已停用 {target.name}。"
                st.rerun()
        can_preview = not target.disabled and target.name != me.user
        if can_preview and st.button(
            "以该用户身份预览", key="admin_preview", icon=":material/visibility:"
        ):
            ui.start_preview(target.name)

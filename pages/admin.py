"""用户管理: accounts, roles and scopes, disable/enable, reset passwords (shown once), and
"preview as" a user to see exactly what they see. Every change is made through the user store,
which records it in the audit trail."""

import polars as pl
import streamlit as st

from xuncha import ui
from xuncha.auth import MANAGE_USERS, ROLES, AuthError
from xuncha.auth.access import SCOPE_ALLOWED, SCOPE_REQUIRED

ui.require(MANAGE_USERS, own=True)
me = ui.signed_in()
users = ui.users()
reader = ui.reader()
st.title("用户管理")
st.caption(
    "账号、角色和可见范围。巡察组账号必须限定轮次或单位；案管、只读账号可以限定。"
    "新密码只显示一次，请当面或通过安全渠道交给本人。所有修改记入审计日志。"
)

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
unit_names = reader.query("units_list")["name"].to_list()
listed = users.list_users()
if listed:
    frame = pl.DataFrame(
        [
            {
                "用户名": u.name,
                "姓名": u.display_name,
                "角色": u.role_label,
                "轮次范围": "、".join(u.rounds) if u.rounds is not None else "全部",
                "单位范围": "、".join(u.units) if u.units is not None else "全部",
                "状态": "已停用" if u.disabled else "正常",
                "最近登录": u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "—",
            }
            for u in listed
        ]
    )
    ui.table(frame, key="admin_users", raw=True)
else:
    st.info("还没有用户。")


def scope_fields(prefix: str, role: str, rounds=None, units=None):  # type: ignore[no-untyped-def]
    if role not in SCOPE_ALLOWED:
        st.caption(f"{ROLES[role]}的可见范围为全部轮次和单位。")
        return None, None
    picked_rounds = st.multiselect(
        "可见轮次（不选为全部）",
        round_names,
        default=list(rounds or []),
        key=f"{prefix}_rounds",
        placeholder="全部",
    )
    picked_units = st.multiselect(
        "可见单位（不选为全部）",
        unit_names,
        default=list(units or []),
        key=f"{prefix}_units",
        placeholder="全部",
    )
    return (picked_rounds or None), (picked_units or None)


with st.expander("新增用户", icon=":material/person_add:", expanded=not listed):
    role = st.selectbox("角色", list(ROLES), format_func=lambda r: ROLES[r], key="admin_new_role")
    with st.form("admin_new", clear_on_submit=True):
        name = st.text_input("用户名", max_chars=32, key="admin_new_name")
        display = st.text_input("姓名", max_chars=32, key="admin_new_display")
        rounds, units = scope_fields("admin_new", role)
        if role in SCOPE_REQUIRED:
            st.caption("巡察组账号必须至少限定轮次或单位之一。")
        create = st.form_submit_button("创建（生成初始密码）", type="primary")
    if create:
        try:
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
    with cols[0], st.form("admin_edit"):
        new_role = st.selectbox(
            "角色",
            list(ROLES),
            index=list(ROLES).index(target.role),
            format_func=lambda r: ROLES[r],
            key=f"admin_role_{target.name}",
        )
        rounds, units = scope_fields(
            f"admin_edit_{target.name}", new_role, target.rounds, target.units
        )
        save = st.form_submit_button("保存角色和范围")
    if save:
        try:
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

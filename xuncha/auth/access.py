"""Roles, permissions and `Access`: what one signed-in user may do and see (DOMAIN.md §7).

An `Access` is the only thing the rest of the package needs to know about a user: the
permissions of the role and the rounds/units it is confined to. Scope is applied in the data
layer from it; a widget never decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# -- permissions -------------------------------------------------------------------------

VIEW_PAGES = "view_pages"
EXPORT = "export"
SQL = "sql"
BRIEFING = "briefing"
IMPORT = "import"  # import ledgers and roll batches back
CLUE_DETAILS = "clue_details"
MANAGE_USERS = "manage_users"
EDIT_CONFIG = "edit_config"
VIEW_AUDIT = "view_audit"
EXPORT_AUDIT = "export_audit"  # export the audit trail (not data: auditors see no data)
# Online rectification (DOMAIN.md §8): a unit reports, a reviewer passes or returns, the
# inspection office closes (销号) and approves extensions. Three different accounts.
REPORT = "report"
REVIEW = "review"
APPROVE = "approve"
# 整改成效评估: enter a manual item or confirm another person's entry (two people), archive.
EVALUATE = "evaluate"

PERMISSIONS: dict[str, str] = {
    VIEW_PAGES: "查看数据页面",
    EXPORT: "导出",
    SQL: "数据查询",
    BRIEFING: "生成简报",
    IMPORT: "导入台账",
    CLUE_DETAILS: "查看线索详情",
    MANAGE_USERS: "用户管理",
    EDIT_CONFIG: "修改配置",
    VIEW_AUDIT: "查看审计记录",
    EXPORT_AUDIT: "导出审计记录",
    REPORT: "整改填报",
    REVIEW: "整改审核",
    APPROVE: "整改销号",
    EVALUATE: "整改成效评估",
}
ALL_PERMISSIONS = frozenset(PERMISSIONS)

# -- roles -------------------------------------------------------------------------------

ROLES: dict[str, str] = {
    "admin": "管理员",
    "leader": "领导",
    "office": "巡察办",
    "group": "巡察组",
    "supervisor": "监督检查室",
    "liaison": "被巡察单位联络员",
    "case": "案管",
    "viewer": "只读",
    "auditor": "审计",
}

_DATA = frozenset({VIEW_PAGES, EXPORT, BRIEFING, SQL})

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": _DATA | {MANAGE_USERS, EDIT_CONFIG, VIEW_AUDIT, EXPORT_AUDIT},
    "leader": _DATA,
    "office": _DATA | {IMPORT, APPROVE, EVALUATE},
    "group": _DATA | {REVIEW},
    "supervisor": _DATA | {REVIEW, EVALUATE},
    # A unit's liaison sees and reports its own measures only: no analysis page (rankings,
    # scores, other units), no export, briefing or SQL, never clues.
    "liaison": frozenset({REPORT}),
    "case": _DATA | {CLUE_DETAILS},
    "viewer": frozenset({VIEW_PAGES}),
    "auditor": frozenset({VIEW_AUDIT, EXPORT_AUDIT}),
}

# Scope per role: a group must be confined to rounds and/or units; case and viewer may be;
# the others see everything by definition (or, for the auditor, no data at all).
SCOPE_REQUIRED = frozenset({"group", "liaison"})
SCOPE_ALLOWED = frozenset({"group", "supervisor", "case", "viewer", "liaison"})
# A liaison is confined to exactly one unit (and, optionally, the rounds that inspected it).
ONE_UNIT = frozenset({"liaison"})

SYSTEM_ROLE = "system"
SYSTEM_LABEL = "系统"
DEMO_USER = "演示用户"


class AuthError(Exception):
    """A login, user or permission problem with a message fit to show a user (Chinese)."""


class PermissionDenied(AuthError):
    """The user may not do this (or is unknown or disabled)."""


def role_label(role: str) -> str:
    if role == SYSTEM_ROLE:
        return SYSTEM_LABEL
    return ROLES.get(role, role)


def check_role(role: str) -> str:
    if role not in ROLES:
        known = "、".join(f"{code}（{label}）" for code, label in ROLES.items())
        raise AuthError(f"未知角色：{role}（可用：{known}）")
    return role


def check_scope(role: str, rounds: tuple[str, ...] | None, units: tuple[str, ...] | None) -> None:
    """Refuse a scope the role cannot have: a group without one, a leader with one, a
    liaison without exactly one unit."""
    scoped = rounds is not None or units is not None
    # First: "rounds or units" would mislead a liaison, whose unit is never optional.
    if role in ONE_UNIT and (units is None or len(units) != 1):
        given = "未限定单位" if units is None else f"限定了 {len(units)} 个单位"
        raise AuthError(f"{role_label(role)}角色须限定且只能限定一个单位（{given}）；轮次可不限定")
    if role in SCOPE_REQUIRED and not scoped:
        raise AuthError(f"{role_label(role)}角色须限定轮次或单位（至少一项）")
    if scoped and role not in SCOPE_ALLOWED:
        raise AuthError(f"{role_label(role)}角色可查看全部轮次和单位，不能限定范围")


def scope_text(role: str, rounds: tuple[str, ...] | None, units: tuple[str, ...] | None) -> str:
    """A role's scope in words, for user lists and the user bar: "第一轮；市财政局",
    "全部轮次；全部单位"; a liaison's unit first, its rounds as those that inspected it."""
    if role in ONE_UNIT:
        unit = "、".join(units) if units else "（未限定单位）"
        return f"{unit}；" + ("、".join(rounds) if rounds is not None else "巡察该单位的各轮次")
    if not ROLE_PERMISSIONS.get(role, frozenset()) & {VIEW_PAGES}:
        return "不可查看业务数据"
    shown_rounds = "、".join(rounds) if rounds is not None else "全部轮次"
    shown_units = "、".join(units) if units is not None else "全部单位"
    return f"{shown_rounds}；{shown_units}"


def scope_tuple(names: Iterable[str] | None) -> tuple[str, ...] | None:
    """Names as a tuple without blanks or repeats; None (every one) for None or nothing."""
    if names is None:
        return None
    out: list[str] = []
    for name in names:
        text = str(name).strip()
        if text and text not in out:
            out.append(text)
    return tuple(out) or None


@dataclass(frozen=True)
class Access:
    """Who is acting, what the role allows, and the rounds/units they may see (None: all)."""

    user: str
    display_name: str
    role: str
    rounds: tuple[str, ...] | None
    units: tuple[str, ...] | None
    permissions: frozenset[str]
    demo: bool = False

    @classmethod
    def for_role(
        cls,
        user: str,
        role: str,
        *,
        display_name: str | None = None,
        rounds: Iterable[str] | None = None,
        units: Iterable[str] | None = None,
    ) -> Access:
        check_role(role)
        return cls(
            user=user,
            display_name=display_name or user,
            role=role,
            rounds=scope_tuple(rounds),
            units=scope_tuple(units),
            permissions=ROLE_PERMISSIONS[role],
        )

    @classmethod
    def system(cls, name: str = "system") -> Access:
        """Everything, clue details included: the command line without a login, and jobs."""
        return cls(
            user=name,
            display_name=name,
            role=SYSTEM_ROLE,
            rounds=None,
            units=None,
            permissions=ALL_PERMISSIONS,
        )

    @classmethod
    def for_demo(cls) -> Access:
        """The demo store opened without a login: the inspection office's view (pages,
        exports, briefings, SQL and imports into the fictional data; never clue details or
        administration), marked as a demo."""
        return cls(
            user=DEMO_USER,
            display_name=DEMO_USER,
            role="office",
            rounds=None,
            units=None,
            permissions=ROLE_PERMISSIONS["office"],
            demo=True,
        )

    @property
    def role_label(self) -> str:
        return role_label(self.role)

    @property
    def scoped(self) -> bool:
        return self.rounds is not None or self.units is not None

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str) -> None:
        if permission not in self.permissions:
            raise PermissionDenied(f"没有{PERMISSIONS.get(permission, permission)}权限")

    def describe(self) -> str:
        """One line for page headers and export metadata, e.g.
        "张三（巡察组）：十四届市委第一轮巡察；市财政局、市教育局"."""
        who = self.display_name or self.user
        label = self.role_label + ("，演示" if self.demo else "")
        if self.role in ONE_UNIT:  # a liaison: its own unit (no business data beyond it)
            return f"{who}（{label}）：{scope_text(self.role, self.rounds, self.units)}"
        if not self.can(VIEW_PAGES):
            return f"{who}（{label}）：不可查看业务数据"
        rounds = "、".join(self.rounds) if self.rounds is not None else "全部轮次"
        units = "、".join(self.units) if self.units is not None else "全部单位"
        return f"{who}（{label}）：{rounds}；{units}"

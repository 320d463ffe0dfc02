"""`xuncha user …`: local users on the command line (add, list, disable, enable, passwd, scope,
role). Who runs it is the operating-system user, recorded in the audit trail as the actor.

Passwords are never taken as arguments (they would end up in shell history and `ps`): a
password is read from standard input when it is not a terminal, otherwise one is generated
and printed once.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from xuncha import audit
from xuncha.auth.access import ROLES, AuthError, role_label, scope_text
from xuncha.auth.scope import canonical_scope
from xuncha.auth.users import User, UserStore

# The same default as xuncha.cli.DEFAULT_DB (importing it from there would be a cycle).
DEFAULT_DB = os.environ.get("XUNCHA_DB", "data/demo")
_SEPARATORS = re.compile(r"[,，]")


def register(subparsers: Any) -> None:
    """Add the `user` command to the `xuncha` parser's sub-commands."""
    p = subparsers.add_parser("user", help="用户管理：新增、停用、改密码、角色和查看范围")
    sub = p.add_subparsers(dest="user_command", required=True)
    roles = "、".join(f"{code}（{label}）" for code, label in ROLES.items())

    q = sub.add_parser(
        "add",
        help="新增用户（密码从标准输入读取；没有输入时自动生成并只显示一次）",
        description=(
            f"新增用户。角色：{roles}。巡察组须用 --rounds 或 --units 限定范围；"
            "被巡察单位联络员须用 --unit 限定一个单位（全称或简称），可再用 --rounds 限定"
            "巡察过该单位的轮次。"
        ),
    )
    q.add_argument("name", metavar="NAME", help="用户名")
    q.add_argument("--role", required=True, choices=tuple(ROLES), help="角色")
    _scope_arguments(q)
    q.add_argument("--display-name", dest="display_name", default=None, help="显示名称（如姓名）")
    _db_argument(q)
    q.set_defaults(func=cmd_add)

    q = sub.add_parser("list", help="列出用户（不含密码）")
    q.add_argument("--format", choices=("text", "json"), default="text")
    _db_argument(q)
    q.set_defaults(func=cmd_list)

    q = sub.add_parser("disable", help="停用用户（立即结束其登录会话）")
    q.add_argument("name", metavar="NAME")
    _db_argument(q)
    q.set_defaults(func=cmd_disable)

    q = sub.add_parser("enable", help="重新启用用户")
    q.add_argument("name", metavar="NAME")
    _db_argument(q)
    q.set_defaults(func=cmd_enable)

    q = sub.add_parser("passwd", help="重设密码（从标准输入读取；没有输入时自动生成并只显示一次）")
    q.add_argument("name", metavar="NAME")
    _db_argument(q)
    q.set_defaults(func=cmd_passwd)

    q = sub.add_parser("scope", help="设定查看范围（未给出的一项为全部；两项都不给则不限范围）")
    q.add_argument("name", metavar="NAME")
    _scope_arguments(q)
    _db_argument(q)
    q.set_defaults(func=cmd_scope)

    q = sub.add_parser(
        "role", help="更改角色（不给 --rounds/--units 时保留原范围，角色不能限定范围时清除）"
    )
    q.add_argument("name", metavar="NAME")
    q.add_argument("role", metavar="ROLE", choices=tuple(ROLES), help=f"角色：{roles}")
    _scope_arguments(q)
    _db_argument(q)
    q.set_defaults(func=cmd_role)


def _db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=DEFAULT_DB, help="数据仓目录（用户库在其中 auth/ 下）")


def _scope_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", default=None, help="轮次名称，多个用逗号分隔")
    parser.add_argument(
        "--units",
        "--unit",
        dest="units",
        default=None,
        help="单位全称或简称，多个用逗号分隔（被巡察单位联络员：一个单位）",
    )


# -- commands ----------------------------------------------------------------------------


def cmd_add(args: argparse.Namespace) -> int:
    users = _users(args.db)
    rounds, units = _scope(args, args.role)
    password = read_password()
    with _audited():
        generated = users.add_user(
            args.name,
            args.role,
            actor=_actor(),
            rounds=rounds,
            units=units,
            password=password,
            display_name=args.display_name,
        )
    user = users.get(args.name)
    assert user is not None
    print(f"已新增用户 {user.name}（{user.role_label}；{_describe_scope(user)}）")
    if generated:
        _print_password(generated)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    users = _users(args.db).list_users()
    if args.format == "json":
        print(json.dumps([u.as_json() for u in users], ensure_ascii=False))
        return 0
    if not users:
        print("尚无用户")
        return 0
    for user in users:
        status = "停用" if user.disabled else "启用"
        last = (
            user.last_login_at.astimezone().strftime("%Y-%m-%d %H:%M")
            if user.last_login_at
            else "从未登录"
        )
        print(
            f"{user.name}\t{user.display_name}\t{user.role_label}\t{status}\t"
            f"{_describe_scope(user)}\t最近登录：{last}"
        )
    return 0


def cmd_disable(args: argparse.Namespace) -> int:
    users = _users(args.db)
    with _audited():
        changed = users.disable(args.name, actor=_actor())
    name = _name_of(users, args.name)
    print(f"已停用用户 {name}，其登录会话已结束" if changed else f"用户 {name} 已是停用状态")
    return 0


def cmd_enable(args: argparse.Namespace) -> int:
    users = _users(args.db)
    with _audited():
        changed = users.enable(args.name, actor=_actor())
    name = _name_of(users, args.name)
    print(f"已启用用户 {name}" if changed else f"用户 {name} 已是启用状态")
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    users = _users(args.db)
    if users.get(args.name) is None:
        raise AuthError(f"用户不存在：{args.name}")
    password = read_password()
    with _audited():
        generated = users.set_password(args.name, password, actor=_actor())
    print(f"已重设用户 {_name_of(users, args.name)} 的密码，其登录会话已结束")
    if generated:
        _print_password(generated)
    return 0


def cmd_scope(args: argparse.Namespace) -> int:
    users = _users(args.db)
    known = users.get(args.name)
    if known is None:
        raise AuthError(f"用户不存在：{args.name}")
    rounds, units = _scope(args, known.role)
    with _audited():
        users.set_scope(args.name, rounds, units, actor=_actor())
    user = users.get(args.name)
    assert user is not None
    print(f"已设定用户 {user.name} 的范围：{_describe_scope(user)}")
    return 0


def cmd_role(args: argparse.Namespace) -> int:
    users = _users(args.db)
    given = args.rounds is not None or args.units is not None
    scope = _scope(args, args.role) if given else None
    with _audited():
        users.set_role(args.name, args.role, actor=_actor(), scope=scope)
    user = users.get(args.name)
    assert user is not None
    print(f"已将用户 {user.name} 的角色改为{role_label(user.role)}（{_describe_scope(user)}）")
    return 0


# -- helpers -----------------------------------------------------------------------------


def read_password() -> str | None:
    """A password piped on standard input (one line), or None to generate one: when standard
    input is a terminal, cannot be read, or is empty."""
    stream = sys.stdin
    try:
        if stream is None or stream.closed or stream.isatty():
            return None
        text = stream.read()
    except (OSError, ValueError):
        return None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if not text:
        return None
    if "\n" in text or "\r" in text:
        raise AuthError("标准输入只能有一行：密码")
    return text


def _users(db: str) -> UserStore:
    root = Path(db)
    if not root.is_dir():
        raise AuthError(f"数据仓不存在：{root}（可先运行 xuncha demo --db {root}）")
    return UserStore(root)


def _scope(
    args: argparse.Namespace, role: str
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    rounds, units, checked = canonical_scope(
        args.db, _split(args.rounds), _split(args.units), role=role
    )
    if not checked and (rounds is not None or units is not None):
        print("xuncha: 注意：数据仓尚无数据，未核对轮次和单位名称", file=sys.stderr)
    return rounds, units


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    parts = [p.strip() for p in _SEPARATORS.split(text)]
    return [p for p in parts if p] or None


def _describe_scope(user: User) -> str:
    return scope_text(user.role, user.rounds, user.units)


def _name_of(users: UserStore, name: str) -> str:
    user = users.get(name)
    return user.name if user else name


def _print_password(password: str) -> None:
    print(f"初始密码（只显示这一次，请以保密方式转交）：{password}")


def _actor() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "system"


@contextmanager
def _audited() -> Iterator[None]:
    """A change whose audit record cannot be written is not made; say so in one line."""
    try:
        yield
    except audit.AuditError as exc:
        raise AuthError(f"审计记录写入失败，未做更改：{exc}") from None

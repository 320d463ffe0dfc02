"""`xuncha user …`: adding, listing, disabling and re-passwording users from the command line."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from tests.builders import StoreBuilder
from xuncha import audit, cli
from xuncha.auth import UserStore, passwords

PASSWORD = "Piped-Pass-2026"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap Argon2id parameters in this process (the child processes keep the defaults)."""
    monkeypatch.setattr(
        passwords,
        "default_hasher",
        lambda: PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
    )


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    b = StoreBuilder()
    r1 = b.round("第一轮", seq=1)
    b.round("第二轮", seq=2)
    fin = b.unit("市财政局", short_name="财政局")
    edu = b.unit("市教育局", sector="教育", short_name="教育局")
    b.inspection(r1, fin, feedback=dt.date(2024, 1, 10))
    b.inspection(r1, edu, feedback=dt.date(2024, 1, 12))
    return b.build(tmp_path / "store").root


def run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *argv: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _generated(out: str) -> str:
    lines = [line for line in out.splitlines() if "只显示这一次" in line]
    assert len(lines) == 1, out
    found = re.search(r"：(\S+)$", lines[0])
    assert found is not None
    return found.group(1)


def test_add_reads_the_password_from_standard_input_and_never_prints_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, store: Path
) -> None:
    code, out, err = run(
        capsys,
        monkeypatch,
        "user",
        "add",
        "zhang",
        "--role",
        "leader",
        "--display-name",
        "张三",
        "--db",
        str(store),
        stdin=PASSWORD + "\n",
    )
    assert code == 0, err
    assert "已新增用户 zhang" in out and "领导" in out
    assert PASSWORD not in out + err and "只显示这一次" not in out
    result = UserStore(store).authenticate("zhang", PASSWORD)
    assert result.ok and result.access is not None and result.access.display_name == "张三"
    added = next(e for e in audit.entries(store) if e.action == "user_add")
    assert added.details["name"] == "zhang" and added.details["password"] == "given"


def test_add_without_input_prints_a_generated_password_exactly_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, store: Path
) -> None:
    code, out, _ = run(
        capsys, monkeypatch, "user", "add", "li", "--role", "viewer", "--db", str(store)
    )
    assert code == 0
    password = _generated(out)
    assert len(password) == 16 and out.count(password) == 1
    assert UserStore(store).authenticate("li", password).ok
    assert password not in audit.audit_path(store).read_text(encoding="utf-8")
    assert password.encode() not in (store / "auth" / "users.sqlite").read_bytes()


def test_list_shows_users_without_hashes_as_text_or_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, store: Path
) -> None:
    run(capsys, monkeypatch, "user", "add", "li", "--role", "viewer", "--db", str(store))
    run(
        capsys,
        monkeypatch,
        "user",
        "add",
        "wang",
        "--role",
        "group",
        "--rounds",
        "第一轮",
        "--units",
        "财政局",
        "--db",
        str(store),
    )
    code, text, _ = run(capsys, monkeypatch, "user", "list", "--db", str(store))
    assert code == 0 and "argon2" not in text
    assert "li" in text and "只读" in text and "从未登录" in text
    assert "巡察组" in text and "第一轮；市财政局" in text
    code, raw, _ = run(capsys, monkeypatch, "user", "list", "--format", "json", "--db", str(store))
    assert code == 0 and "argon2" not in raw and "password_hash" not in raw
    listed = {u["name"]: u for u in json.loads(raw)}
    assert set(listed) == {"li", "wang"}
    assert listed["wang"]["rounds"] == ["第一轮"] and listed["wang"]["units"] == ["市财政局"]
    assert listed["li"]["rounds"] is None and listed["li"]["disabled"] is False


def test_disable_stops_logins_and_enable_restores_them(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, store: Path
) -> None:
    run(
        capsys,
        monkeypatch,
        "user",
        "add",
        "li",
        "--role",
        "viewer",
        "--db",
        str(store),
        stdin=PASSWORD,
    )
    code, out, _ = run(capsys, monkeypatch, "user", "disable", "li", "--db", str(store))
    assert code == 0 and "已停用用户 li" in out
    assert not UserStore(store).authenticate("li", PASSWORD).ok
    _, raw, _ = run(capsys, monkeypatch, "user", "list", "--format", "json", "--db", str(store))
    assert json.loads(raw)[0]["disabled"] is True
    code, out, _ = run(capsys, monkeypatch, "user", "disable", "li", "--db", str(store))
    assert code == 0 and "已是停用状态" in out
    code, out, _ = run(capsys, monkeypatch, "user", "enable", "li", "--db", str(store))
    assert code == 0 and UserStore(store).authenticate("li", PASSWORD).ok
    assert [e.action for e in audit.entries(store)].count("user_disable") == 1


def test_passwd_replaces_the_password_from_input_or_with_a_generated_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, store: Path
) -> None:
    run(
        capsys,
        monkeypatch,
        "user",
        "add",
        "li",
        "--role",
        "viewer",
        "--db",
        str(store),
        stdin=PASSWORD,
    )
    code, out, _ = run(
        capsys, monkeypatch, "user", "passwd", "li", "--db", str(store), stdin="Second-Pass-77\n"
    )
    assert code == 0 and "Second-Pass-77" not in out
    users = UserStore(store)
    assert not users.authenticate("li", PASSWORD).ok
    assert users.authenticate("li", "Second-Pass-77").ok
    code, out, _ = run(capsys, monkeypatch, "user", "passwd", "li", "--db", str(store))
    assert code == 0
    assert users.authenticate("li", _generated(out)).ok
    assert [e.action for e in audit.entries(store)].count("password_change") == 2


def test_unknown_round_or_unit_names_are_refused_with_the_known_ones(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, store: Path
) -> None:
    code, _, err = run(
        capsys,
        monkeypatch,
        "user",
        "add",
        "g",
        "--role",
        "group",
        "--rounds",
        "第九轮",
        "--db",
        str(store),
    )
    assert code == 1 and "未知轮次：第九轮" in err and "第一轮、第二轮" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run(
        capsys,
        monkeypatch,
        "user",
        "add",
        "g",
        "--role",
        "group",
        "--units",
        "市公安局",
        "--db",
        str(store),
    )
    assert code == 1 and "未知单位：市公安局" in err and "市财政局" in err
    assert UserStore(store).get("g") is None


def test_what_the_policy_or_the_role_forbids_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, store: Path
) -> None:
    db = ("--db", str(store))
    code, _, err = run(
        capsys, monkeypatch, "user", "add", "a", "--role", "viewer", *db, stdin="weak\n"
    )
    assert code == 1 and "密码至少 10 个字符" in err
    code, _, err = run(
        capsys,
        monkeypatch,
        "user",
        "add",
        "a",
        "--role",
        "viewer",
        *db,
        stdin="One-Pass-111\nTwo\n",
    )
    assert code == 1 and "只能有一行" in err
    code, _, err = run(capsys, monkeypatch, "user", "add", "g", "--role", "group", *db)
    assert code == 1 and "须限定轮次或单位" in err
    code, _, err = run(capsys, monkeypatch, "user", "disable", "nobody", *db)
    assert code == 1 and "用户不存在" in err
    assert UserStore(store).list_users() == []


def test_scope_and_role_change_what_a_user_may_see(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, store: Path
) -> None:
    db = ("--db", str(store))
    run(capsys, monkeypatch, "user", "add", "g", "--role", "group", "--rounds", "第一轮", *db)
    code, out, _ = run(capsys, monkeypatch, "user", "scope", "g", "--units", "财政局,教育局", *db)
    assert code == 0 and "全部轮次；市财政局、市教育局" in out
    access = UserStore(store).access_for("g")
    assert access.rounds is None and access.units == ("市财政局", "市教育局")
    code, out, _ = run(capsys, monkeypatch, "user", "role", "g", "leader", *db)
    assert code == 0 and "领导" in out
    access = UserStore(store).access_for("g")
    assert access.role == "leader" and not access.scoped
    changes = [e for e in audit.entries(store) if e.action == "permission_change"]
    assert [c.details["change"] for c in changes] == ["scope", "role"]


def test_names_are_accepted_unchecked_while_the_store_has_no_data(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "new"
    empty.mkdir()
    code, _, err = run(
        capsys,
        monkeypatch,
        "user",
        "add",
        "g",
        "--role",
        "group",
        "--rounds",
        "第一轮",
        "--db",
        str(empty),
    )
    assert code == 0 and "未核对" in err
    code, _, err = run(capsys, monkeypatch, "user", "list", "--db", str(tmp_path / "missing"))
    assert code == 1 and "数据仓不存在" in err
    assert not (tmp_path / "missing").exists()


def test_the_command_line_writes_while_another_process_holds_the_user_database(
    store: Path,
) -> None:
    users = UserStore(store)
    users.add_user("zhang", "leader", actor="t", password=PASSWORD)
    token = users.start_session(users.access_for("zhang"))
    reader = sqlite3.connect(store / "auth" / "users.sqlite")
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM users").fetchone()[0] == 1  # a held snapshot
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "xuncha.cli",
                "user",
                "add",
                f"u{i}",
                "--role",
                "viewer",
                "--db",
                str(store),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for i in range(3)
    ]
    for i, child in enumerate(children):
        assert child.stdin is not None
        child.stdin.write(f"Child-Pass-{i}xyz\n")
        child.stdin.close()
    meanwhile = 0
    while any(child.poll() is None for child in children):
        # Logins and session checks carry on in this process meanwhile.
        assert users.authenticate("zhang", PASSWORD).ok
        assert users.check_session(token).user == "zhang"
        meanwhile += 1
    for child in children:
        assert child.stdout is not None and child.stderr is not None
        assert child.wait(timeout=60) == 0, child.stderr.read()
    reader.rollback()
    reader.close()
    assert meanwhile > 0
    assert {u.name for u in users.list_users()} == {"zhang", "u0", "u1", "u2"}
    assert users.authenticate("u2", "Child-Pass-2xyz").ok
    assert audit.verify(store) == []


def test_a_liaison_is_added_with_exactly_one_unit_by_its_short_name(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, store: Path
) -> None:
    db = ("--db", str(store))
    code, out, _ = run(
        capsys, monkeypatch, "user", "add", "lx", "--role", "liaison", "--unit", "财政局", *db,
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0, out
    assert "已新增用户 lx（被巡察单位联络员；市财政局；巡察该单位的各轮次）" in out
    access = UserStore(store).access_for("lx")
    assert access.units == ("市财政局",) and access.rounds is None
    assert access.permissions == frozenset({"report"})
    code, out, _ = run(capsys, monkeypatch, "user", "list", "--format", "json", *db)
    listed = {u["name"]: u for u in json.loads(out)}
    assert listed["lx"]["role_label"] == "被巡察单位联络员"
    # Rounds: only those that inspected the unit.
    code, out, _ = run(
        capsys, monkeypatch, "user", "add", "ly", "--role", "liaison", "--unit", "市教育局",
        "--rounds", "第一轮", *db, stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0 and "市教育局；第一轮" in out


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        ((), "被巡察单位联络员角色须限定且只能限定一个单位（未限定单位）；轮次可不限定"),
        (("--rounds", "第一轮"), "须限定且只能限定一个单位（未限定单位）"),
        (("--units", "财政局,教育局"), "须限定且只能限定一个单位（限定了 2 个单位）"),
        (
            ("--unit", "财政局", "--rounds", "第二轮"),
            "第二轮未巡察市财政局（巡察过该单位的轮次：第一轮）",
        ),
        (("--unit", "市公安局"), "未知单位：市公安局"),
    ],
)
def test_a_liaison_without_exactly_one_unit_is_refused_in_one_chinese_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    store: Path,
    scope: tuple[str, ...],
    message: str,
) -> None:
    code, _, err = run(
        capsys, monkeypatch, "user", "add", "lx", "--role", "liaison", *scope,
        "--db", str(store), stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 1 and message in err, err
    assert len(err.strip().splitlines()) == 1
    assert UserStore(store).get("lx") is None


def test_a_group_user_becomes_a_liaison_only_with_one_unit(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, store: Path
) -> None:
    db = ("--db", str(store))
    run(
        capsys, monkeypatch, "user", "add", "g", "--role", "group", "--rounds", "第一轮",
        "--units", "财政局,教育局", *db, stdin=PASSWORD + "\n",
    )  # fmt: skip
    code, _, err = run(capsys, monkeypatch, "user", "role", "g", "liaison", *db)
    assert code == 1 and "限定了 2 个单位" in err
    assert UserStore(store).access_for("g").role == "group"
    code, _, err = run(
        capsys, monkeypatch, "user", "role", "g", "liaison", "--unit", "教育局",
        "--rounds", "第二轮", *db,
    )  # fmt: skip
    assert code == 1 and "第二轮未巡察市教育局" in err
    code, out, _ = run(
        capsys, monkeypatch, "user", "role", "g", "liaison", "--unit", "教育局",
        "--rounds", "第一轮", *db,
    )  # fmt: skip
    assert code == 0 and "被巡察单位联络员（市教育局；第一轮）" in out
    access = UserStore(store).access_for("g")
    assert access.role == "liaison" and access.units == ("市教育局",)
    # Its scope changes the same way: never without its one unit.
    code, _, err = run(capsys, monkeypatch, "user", "scope", "g", "--rounds", "第一轮", *db)
    assert code == 1 and "未限定单位" in err
    code, _, err = run(capsys, monkeypatch, "user", "scope", "g", "--unit", "财政局", "--rounds",
                       "第二轮", *db)  # fmt: skip
    assert code == 1 and "第二轮未巡察市财政局" in err
    code, out, _ = run(capsys, monkeypatch, "user", "scope", "g", "--unit", "财政局", *db)
    assert code == 0 and "市财政局；巡察该单位的各轮次" in out
    changes = [e.details["change"] for e in audit.entries(store) if e.action == "permission_change"]
    assert changes == ["role", "scope"]


def test_a_supervisor_is_added_with_or_without_a_scope(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, store: Path
) -> None:
    db = ("--db", str(store))
    code, out, _ = run(
        capsys, monkeypatch, "user", "add", "s", "--role", "supervisor", *db, stdin=PASSWORD + "\n"
    )
    assert code == 0 and "（监督检查室；全部轮次；全部单位）" in out
    code, out, _ = run(
        capsys, monkeypatch, "user", "add", "s2", "--role", "supervisor", "--units", "财政局", *db,
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0 and "（监督检查室；全部轮次；市财政局）" in out
    assert UserStore(store).access_for("s2").can("review")

"""The directory of recipients (通讯录): its import's checks and refusals, the table it
replaces, its audit, its listing and its template."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import openpyxl
import pytest

from tests.builders import StoreBuilder
from xuncha import audit, cli
from xuncha.rectify import contacts
from xuncha.store import Store, open_reader

HEADER = "单位,身份,姓名,电子邮箱,系统账号\n"
GOOD = (
    HEADER + "市财政局,主要负责人,王强,wangqiang@czj.example.cn,WangQiang\n"
    "财政局,责任领导,李四,lisi@czj.example.cn,lisi\n"
    "市财政局,责任人,张 三,,\n"
    "市财政局,联络员,李四,lisi@czj.example.cn,\n"
    "教育局,联络员,郑一,zhengyi@jyj.example.cn,zhengyi\n"
    ",巡察办,赵六,zhaoliu@xcb.example.cn,zhaoliu\n"
    "巡察办,巡察办,冯二,,\n"
)


def store_of_two_units(tmp_path: Path) -> Store:
    b = StoreBuilder()
    r = b.round("第一轮", seq=1)
    finance = b.unit("市财政局", short_name="财政局")
    education = b.unit("市教育局", short_name="教育局", sector="教育")
    b.unit("市人防办", short_name="人防办", sector="人防")
    b.unit("市人防指挥部", short_name="人防办", sector="人防")  # the same short name twice
    for unit in (finance, education):
        f = b.finding(b.inspection(r, unit, feedback=dt.date(2026, 1, 10)))
        b.measure(f, deadline=dt.date(2026, 3, 31))
    return b.build(tmp_path / "store")


def write(tmp_path: Path, text: str, name: str = "通讯录.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def held(store: Store) -> list[tuple[object, ...]]:
    con = store.connect()
    try:
        return con.execute(
            "SELECT u.name, c.position, c.name, c.email, c.account FROM contacts c"
            " LEFT JOIN units u USING (unit_id) ORDER BY c.contact_id"
        ).fetchall()
    finally:
        con.close()


def test_a_good_directory_is_imported_as_one_version_and_audited(tmp_path: Path) -> None:
    store = store_of_two_units(tmp_path)
    version = store.version()
    outcome = contacts.import_contacts(store, write(tmp_path, GOOD), user="tester")
    assert outcome.version == store.version() == version + 1
    assert held(store) == [
        ("市财政局", "主要负责人", "王强", "wangqiang@czj.example.cn", "wangqiang"),
        ("市财政局", "责任领导", "李四", "lisi@czj.example.cn", "lisi"),
        ("市财政局", "责任人", "张三", None, None),
        ("市财政局", "联络员", "李四", "lisi@czj.example.cn", None),
        ("市教育局", "联络员", "郑一", "zhengyi@jyj.example.cn", "zhengyi"),
        (None, "巡察办", "赵六", "zhaoliu@xcb.example.cn", "zhaoliu"),
        (None, "巡察办", "冯二", None, None),
    ]
    assert outcome.contacts == 7 and outcome.units == 2
    assert outcome.by_position == {
        "主要负责人": 1,
        "责任领导": 1,
        "责任人": 1,
        "联络员": 2,
        "巡察办": 2,
    }
    con = store.connect()
    try:
        batch = con.execute(
            "SELECT batch_id, kind, file_name, file_sha256, user_name, rows_read"
            " FROM import_batches WHERE kind = 'contacts'"
        ).fetchall()
        ids = {r[0] for r in con.execute("SELECT DISTINCT batch_id FROM contacts").fetchall()}
    finally:
        con.close()
    assert batch == [(outcome.batch_id, "contacts", "通讯录.csv", outcome.sha256, "tester", 7)]
    assert ids == {outcome.batch_id}
    (entry,) = [e for e in audit.entries(store.root) if e.action == "contacts_import"]
    assert entry.user == "tester" and entry.details["sha256"] == outcome.sha256
    assert entry.details["contacts"] == 7 and entry.details["data_version"] == outcome.version
    assert "7 人" in outcome.summary()


def test_a_later_directory_replaces_the_whole_table(tmp_path: Path) -> None:
    store = store_of_two_units(tmp_path)
    contacts.import_contacts(store, write(tmp_path, GOOD), user="tester")
    second = HEADER + "市教育局,主要负责人,吴十,wushi@jyj.example.cn,\n"
    outcome = contacts.import_contacts(store, write(tmp_path, second, "新.csv"), user="tester")
    assert held(store) == [("市教育局", "主要负责人", "吴十", "wushi@jyj.example.cn", None)]
    reader = open_reader(store)
    try:
        listed = contacts.list_contacts(reader)
    finally:
        reader.close()
    assert listed["name"].to_list() == ["吴十"] and listed["batch_id"].to_list() == [
        outcome.batch_id
    ]


@pytest.mark.parametrize(
    ("line", "column", "reason"),
    [
        ("市公安局,责任人,张三,,", "单位", "没有这个单位"),
        ("人防办,责任人,张三,,", "单位", "简称不唯一"),
        ("市财政局,局长,张三,,", "身份", "无法识别的身份"),
        (",责任人,张三,,", "身份", "只能是“巡察办”"),
        ("市财政局,巡察办,张三,,", "身份", "单位应留空"),
        ("市财政局,责任人,,,", "姓名", "不能为空"),
        ("市财政局,责任人,张三、李四,,", "姓名", "一行只填一人"),
        ("市财政局,责任人,张三,zhangsan@,", "电子邮箱", "不是有效的电子邮箱"),
        ("市财政局,责任人,张三,zhang san@x.cn,", "电子邮箱", "不是有效的电子邮箱"),
        ("市财政局,责任人,张三,=HYPERLINK(1),", "电子邮箱", "不是有效的电子邮箱"),
        ("市财政局,责任人,张三,,bad name!", "系统账号", "用户名不合规"),
    ],
)
def test_a_bad_row_is_reported_with_row_column_and_reason_and_nothing_is_written(
    tmp_path: Path, line: str, column: str, reason: str
) -> None:
    store = store_of_two_units(tmp_path)
    contacts.import_contacts(store, write(tmp_path, GOOD), user="tester")
    before, version = held(store), store.version()
    text = HEADER + "市财政局,主要负责人,王强,wangqiang@czj.example.cn,\n" + line + "\n"
    with pytest.raises(contacts.ContactsRefused) as refused:
        contacts.import_contacts(store, write(tmp_path, text, "坏.csv"), user="tester")
    (problem,) = refused.value.problems
    assert (problem.row, problem.column) == (3, column)
    assert reason in problem.reason
    assert "第 3 行" in str(refused.value) and reason in str(refused.value)
    assert held(store) == before and store.version() == version


@pytest.mark.parametrize(
    ("lines", "row", "column", "reason"),
    [
        (["市财政局,责任人,张三,,", "财政局,责任人,张三,,"], 3, "姓名", "与第 2 行重复"),
        (
            ["市财政局,责任领导,张三,a@x.cn,", "市财政局,责任人,张三,b@x.cn,"],
            3,
            "电子邮箱",
            "两处应一致",
        ),
        (["市财政局,责任人,张三,,zs", "市教育局,责任人,李四,,zs"], 3, "系统账号", "只能对应一人"),
    ],
)
def test_rows_that_contradict_each_other_are_refused(
    tmp_path: Path, lines: list[str], row: int, column: str, reason: str
) -> None:
    store = store_of_two_units(tmp_path)
    with pytest.raises(contacts.ContactsRefused) as refused:
        contacts.import_contacts(store, write(tmp_path, HEADER + "\n".join(lines)), user="t")
    (problem,) = refused.value.problems
    assert (problem.row, problem.column) == (row, column) and reason in problem.reason
    assert held(store) == []


def test_every_bad_row_is_reported_at_once(tmp_path: Path) -> None:
    store = store_of_two_units(tmp_path)
    text = HEADER + "市公安局,责任人,张三,,\n市财政局,局长,李四,,\n市财政局,责任人,王五,x@,\n"
    with pytest.raises(contacts.ContactsRefused) as refused:
        contacts.import_contacts(store, write(tmp_path, text), user="t")
    assert [(p.row, p.column) for p in refused.value.problems] == [
        (2, "单位"),
        (3, "身份"),
        (4, "电子邮箱"),
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("姓名,电子邮箱\n张三,a@x.cn\n", "找不到表头"),
        ("身份,姓名,电子邮箱\n责任人,张三,a@x.cn\n", "缺少“单位”列"),
        (HEADER + ",,,,\n", "没有任何联系人"),
    ],
)
def test_a_file_that_is_not_a_directory_is_refused(tmp_path: Path, text: str, reason: str) -> None:
    store = store_of_two_units(tmp_path)
    with pytest.raises(contacts.ContactsRefused, match=reason):
        contacts.import_contacts(store, write(tmp_path, text), user="t")
    assert held(store) == []


def test_a_file_of_another_type_is_refused_before_it_is_read(tmp_path: Path) -> None:
    store = store_of_two_units(tmp_path)
    path = tmp_path / "通讯录.docx"
    path.write_bytes(b"PK\x03\x04 not a workbook")
    with pytest.raises(contacts.ContactsRefused, match="不支持的文件类型"):
        contacts.import_contacts(store, path, user="t")


def test_the_template_is_text_only_and_filled_in_it_imports(tmp_path: Path) -> None:
    store = store_of_two_units(tmp_path)
    data = contacts.contacts_template_xlsx(["市财政局", '=HYPERLINK("http://x")'])
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["通讯录", "单位列表", "说明"]
    sheet = book["通讯录"]
    assert [c.value for c in sheet[1]] == list(contacts.COLUMNS)
    listed = book["单位列表"]
    assert listed["A3"].value == '=HYPERLINK("http://x")' and listed["A3"].data_type == "s"
    (validation,) = sheet.data_validations.dataValidation
    assert all(p in validation.formula1 for p in ("主要负责人", "联络员", "巡察办"))
    sheet.append(["财政局", "责任人", "张三", "zhangsan@czj.example.cn", "zhangsan"])
    sheet.append([None, "巡察办", "赵六", None, None])
    path = tmp_path / "通讯录.xlsx"
    book.save(path)
    outcome = contacts.import_contacts(store, path, user="t")
    assert outcome.contacts == 2
    assert held(store) == [
        ("市财政局", "责任人", "张三", "zhangsan@czj.example.cn", "zhangsan"),
        (None, "巡察办", "赵六", None, None),
    ]


def test_a_header_below_a_title_row_and_synonyms_are_found(tmp_path: Path) -> None:
    store = store_of_two_units(tmp_path)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["江城市巡察整改预警通讯录"])
    sheet.append(["单位名称", "姓名", "身份", "邮箱", "账号"])
    sheet.append(["市教育局", "郑一", "联络员", "zhengyi@jyj.example.cn", 10086])
    path = tmp_path / "通讯录.xlsx"
    book.save(path)
    contacts.import_contacts(store, path, user="t")
    assert held(store) == [("市教育局", "联络员", "郑一", "zhengyi@jyj.example.cn", "10086")]


def test_an_account_not_yet_in_the_users_database_is_a_hint(tmp_path: Path) -> None:
    from xuncha.auth import UserStore

    store = store_of_two_units(tmp_path)
    users = UserStore(store.root)
    users.add_user("lisi", "viewer", actor="admin", password="Correct-Horse-9-Battery")
    outcome = contacts.import_contacts(store, write(tmp_path, GOOD), user="t")
    hinted = " ".join(outcome.warnings)
    assert "wangqiang" in hinted and "zhengyi" in hinted and "lisi" not in hinted


def test_the_commands_import_list_and_refuse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = store_of_two_units(tmp_path)
    db = str(store.root)
    bad = write(tmp_path, HEADER + "市公安局,责任人,张三,,\n市财政局,责任人,李四,x@,\n", "坏.csv")
    assert cli.main(["contacts", "import", str(bad), "--db", db]) == 1
    err = capsys.readouterr().err
    assert "2 处问题" in err and "第 2 行“单位”" in err and "第 3 行“电子邮箱”" in err
    assert cli.main(["contacts", "import", str(write(tmp_path, GOOD)), "--db", db]) == 0
    assert "已导入通讯录" in capsys.readouterr().out
    assert cli.main(["contacts", "list", "--db", db, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in listed][:2] == ["赵六", "冯二"]  # the office first
    assert cli.main(["contacts", "list", "--db", db]) == 0
    assert "市财政局  主要负责人  王强  wangqiang@czj.example.cn  账号 wangqiang" in (
        capsys.readouterr().out
    )
    printed = [e for e in audit.entries(store.root) if e.action == "cli_query"]
    assert [e.details["command"] for e in printed] == ["contacts list", "contacts list"]
    out = tmp_path / "模板.xlsx"
    assert cli.main(["contacts", "template", "--out", str(out), "--db", db]) == 0
    assert "附单位 4 个" in capsys.readouterr().out
    assert cli.main(["contacts", "template", "--out", str(out)]) == 1
    assert "已存在" in capsys.readouterr().err


def test_the_demo_store_takes_no_directory(tmp_path: Path, demo_store: Store) -> None:
    version = demo_store.version()
    with pytest.raises(contacts.ContactsRefused, match="演示数据仓"):
        contacts.import_contacts(demo_store, write(tmp_path, GOOD), user="t")
    assert demo_store.version() == version

"""Hand-built fixture stores, written through the real schema and store code.

b = StoreBuilder()
r = b.round("第一轮", seq=1)
u = b.unit("市财政局")
i = b.inspection(r, u, feedback=date(2024, 1, 10))
f = b.finding(i, "B03")
b.measure(f, deadline=date(2024, 3, 31), history=[(date(2024, 1, 10), "IN_PROGRESS"),
                                                 (date(2024, 3, 1), "DONE")])
store = b.build(tmp_path / "store")
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from xuncha.auth import UserStore
from xuncha.store import Store
from xuncha.store.categories import L2_PARENT


@dataclass
class StoreBuilder:
    rounds: list[tuple[Any, ...]] = field(default_factory=list)
    units: list[tuple[Any, ...]] = field(default_factory=list)
    inspections: list[tuple[Any, ...]] = field(default_factory=list)
    findings: list[tuple[Any, ...]] = field(default_factory=list)
    measures: list[tuple[Any, ...]] = field(default_factory=list)
    status_history: list[tuple[Any, ...]] = field(default_factory=list)
    deadline_history: list[tuple[Any, ...]] = field(default_factory=list)
    clues: list[tuple[Any, ...]] = field(default_factory=list)
    outcomes: list[tuple[Any, ...]] = field(default_factory=list)
    _feedback: dict[int, dt.date] = field(default_factory=dict)
    _finding_inspection: dict[int, int] = field(default_factory=dict)
    _history_id: int = 0

    def round(self, name: str, seq: int, kind: str = "常规", term: str = "十四届") -> int:
        round_id = len(self.rounds) + 1
        self.rounds.append((round_id, name, term, seq, kind, None, None))
        return round_id

    def unit(
        self,
        name: str,
        peer_group: str = "市直部门",
        sector: str = "财政",
        short_name: str | None = None,
    ) -> int:
        unit_id = len(self.units) + 1
        self.units.append((unit_id, name, short_name or name, sector, peer_group))
        return unit_id

    def inspection(
        self, round_id: int, unit_id: int, feedback: dt.date, entry_end: dt.date | None = None
    ) -> int:
        inspection_id = len(self.inspections) + 1
        entry_end = entry_end or feedback - dt.timedelta(days=40)
        self.inspections.append(
            (
                inspection_id,
                round_id,
                unit_id,
                "市委第一巡察组",
                entry_end - dt.timedelta(days=30),
                entry_end,
                feedback,
            )
        )
        self._feedback[inspection_id] = feedback
        return inspection_id

    def finding(
        self,
        inspection_id: int,
        l2: str = "B03",
        title: str = "问题",
        tags: list[str] | None = None,
    ) -> int:
        finding_id = len(self.findings) + 1
        _, round_id, unit_id, *_ = self.inspections[inspection_id - 1]
        self.findings.append(
            (
                finding_id,
                inspection_id,
                round_id,
                unit_id,
                L2_PARENT[l2],
                l2,
                tags or [],
                title,
                None,
                "一般",
                "一般干部",
                None,
                False,
                None,
            )
        )
        self._finding_inspection[finding_id] = inspection_id
        return finding_id

    def measure(
        self,
        finding_id: int,
        *,
        deadline: dt.date | None,
        history: list[tuple[dt.date, str]] | None = None,
        completed_on: dt.date | None = None,
        extensions: list[tuple[dt.date, dt.date]] | None = None,
        kind: str | None = None,
    ) -> int:
        """history: (date, status) records; default: IN_PROGRESS from the 反馈日期.
        extensions: (effective date, new deadline)."""
        measure_id = len(self.measures) + 1
        feedback = self._feedback[self._finding_inspection[finding_id]]
        history = history or [(feedback, "IN_PROGRESS")]
        status = history[-1][1]
        if status == "DONE" and completed_on is None:
            completed_on = history[-1][0]
        current = extensions[-1][1] if extensions else deadline
        kind = kind or ("LONG_TERM" if deadline is None else "DATE")
        self.measures.append(
            (
                measure_id,
                finding_id,
                f"措施{measure_id}",
                None,
                None,
                None,
                kind,
                None,
                deadline,
                current,
                False,
                status,
                None,
                completed_on if status == "DONE" else None,
                None,
                None,
                None,
            )
        )
        for day, state in history:
            self._history_id += 1
            self.status_history.append((self._history_id, measure_id, state, day, 1))
        self._history_id += 1
        self.deadline_history.append(
            (self._history_id, measure_id, deadline, None, feedback, 1, None)
        )
        for day, new in extensions or []:
            self._history_id += 1
            self.deadline_history.append(
                (self._history_id, measure_id, new, None, day, 1, "申请延期")
            )
        return measure_id

    def clue(self, inspection_id: int, form: str | None = None, persons: int = 1) -> int:
        clue_id = len(self.clues) + 1
        self.clues.append((clue_id, inspection_id, "移送纪委监委", "初步核实", form, persons, None))
        return clue_id

    def build(self, root: Path) -> Store:
        store = Store(root)

        def apply(con: Any) -> None:
            con.execute(
                "INSERT INTO import_batches (batch_id, kind, user_name, created_at) "
                "VALUES (1, 'fixture', 'test', now())"
            )
            for table, rows in (
                ("rounds", self.rounds),
                ("units", self.units),
                ("inspections", self.inspections),
                ("findings", self.findings),
                ("measures", self.measures),
                ("measure_status_history", self.status_history),
                ("measure_deadline_history", self.deadline_history),
                ("clues", self.clues),
                ("outcomes", self.outcomes),
            ):
                if rows:
                    # Columns by name: later migrations add columns after these.
                    names = [
                        d[0] for d in con.execute(f"SELECT * FROM {table} LIMIT 0").description
                    ]
                    columns = ", ".join(names[: len(rows[0])])
                    marks = ", ".join("?" * len(rows[0]))
                    con.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)

        store.write(apply, fresh=True)
        return store


def pdf(*objects: bytes, trailer_extra: bytes = b"", comment: str = "") -> bytes:
    """A valid PDF: catalog (object 1), pages (2), one page (3), then `objects` (4, 5, …),
    with a correct cross-reference table; `comment` (hex-encoded in a PDF comment) makes
    files of different SHA-256."""
    body = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        *objects,
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    if comment:
        out += b"%" + comment.encode("utf-8").hex().encode() + b"\n"
    offsets = []
    for number, obj in enumerate(body, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(body) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\n" % (len(body) + 1, trailer_extra)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def sample_pdf(text: str = "") -> bytes:
    """A small valid PDF the evidence checks accept; different texts give different files."""
    return pdf(comment=text)


def copy_store(source: Path, target: Path) -> Store:
    """A store's folder copied to `target` (every version, the pointer, its evidence and
    audit files; not a writer's lock): the same store as the one built at `source`, for the
    price of a file copy instead of a new build through the schema and demo generator."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.lock"))
    return Store(target)


def plain_demo(con: Any) -> None:
    """The demo city as a plain write builds it (conftest's store_template("demo", plain_demo))."""
    from xuncha import demo

    demo.build(con)


def built_once(folder: Path, build: Callable[[Path], object]) -> Path:
    """`build(path)` run once into `folder`/store across the xdist workers of a test session
    (an exclusive file lock; the first worker builds, the others wait and find it): the built
    store's path, to be copied and never written."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "store"
    with open(folder / "build.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            if not (folder / "built").exists():
                shutil.rmtree(path, ignore_errors=True)
                build(path)
                (folder / "built").write_text("ok")
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return path


def real_copy(demo_store: Store, target: Path) -> tuple[Store, UserStore]:
    """The demo store copied to `target` and marked real (so its pages ask for a login and
    its exports are not demo data), with a users database whose password hashing is cheap
    enough for tests."""
    shutil.copytree(demo_store.root, target, ignore=shutil.ignore_patterns("*.lock"))
    store = Store(target)
    store.write(lambda con: con.execute("UPDATE store_meta SET value = 'false' WHERE key = 'demo'"))
    users = UserStore(target, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    return store, users


def unit_names(cells: Any) -> list[str]:
    """The unit names of a table's 单位 column as a user reads them: a name linked to its
    单位全景 is held as the link's address (…&name=<percent-encoded name>), shown as the name."""
    from urllib.parse import unquote

    out = []
    for cell in list(cells):
        text = str(cell)
        out.append(unquote(text.split("&name=", 1)[1]) if "&name=" in text else text)
    return out


@contextlib.contextmanager
def serving(store: Store, monkeypatch: Any) -> Iterator[Store]:
    """The app's pages (AppTest) read `store`, signed in by session token rather than a proxy
    header, with every cache of the app cleared before and after (caches outlive one AppTest)."""
    import streamlit as st

    from xuncha import ui

    monkeypatch.setenv("XUNCHA_DB", str(store.root))
    monkeypatch.delenv("XUNCHA_TRUSTED_USER_HEADER", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    ui.clear_caches()
    try:
        yield store
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()
        ui.clear_caches()

"""The 整改成效评估 archive: a round's evaluation kept as it was made, beside the versioned data.

    STORE/evaluations/<id>/evaluation.json   round, date, data version, configuration (values
                                             and digest), period rule, who and their scope,
                                             the results, the items and the manual entries
    STORE/evaluations/<id>/evaluation.xlsx   the same tables for people (结果, 评分明细,
                                             人工评分录入, 说明), written by export.safe_workbook

As briefings are (xuncha.briefing.archive): the data version is pinned (`Store.pin`) so it is
never pruned, files are written once through a staging name, and when the store has a key
every file is sealed (`crypto.seal_bytes`) and read back only with it. Each archive is an
audit record, and the trail is checked writable before anything is written: when the record
still cannot be written, the files and the pin are removed (no unaudited archive).

An archive always covers a whole round within its maker's own scope, whatever filters a page
shows (`save` computes it), and records what it covers: the units counted and the account's
scope in words. An account confined to some rounds or units lists and reads only the archives
it made itself; anyone else who may open the page lists and reads every archive.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

import polars as pl

from xuncha import audit, export
from xuncha.auth.access import EVALUATE, Access
from xuncha.evaluation.config import EvaluationConfig
from xuncha.evaluation.scoring import (
    METHOD,
    SELF_REPORTED_DEFINITION,
    Evaluation,
    evaluate,
    small_sample_note,
)
from xuncha.evaluation.tables import entries_table, items_table, results_table
from xuncha.figures.periods import PeriodRule
from xuncha.filters import Filters, resolve_scope
from xuncha.store import crypto
from xuncha.store.reader import Reader
from xuncha.store.store import EVALUATIONS, Store, StoreError

FOLDER = EVALUATIONS
FILES = ("evaluation.json", "evaluation.xlsx")
_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")


class ArchiveError(StoreError):
    """An archive problem (message in Chinese)."""


def _write(path: Path, data: bytes, key: bytes | None) -> None:
    crypto.write_archived(path, data, key)


def _read(path: Path, store: Store) -> bytes:
    return crypto.read_archived(path, store.key, "评估存档", ArchiveError)


def coverage(units: int, who: Access) -> str:
    """What an archive covers, in words."""
    return (
        f"本轮在存档人范围内（{who.describe()}）的全部已反馈单位，共 {units} 个；"
        "不受页面筛选条件影响"
    )


def workbook(
    evaluation: Evaluation, round_name: str, who: Access, *, covers: str | None = None
) -> bytes:
    """The evaluation as an .xlsx whose cells never run as formulas."""
    buffer = io.BytesIO()
    book = export.safe_workbook(buffer)
    header = book.add_format({"bold": True, "bg_color": "#EEEEEE", "text_wrap": True})
    for name, frame in (
        ("结果", results_table(evaluation)),
        ("评分明细", items_table(evaluation.items)),
        ("人工评分录入", entries_table(evaluation.entries, evaluation.config)),
    ):
        sheet = book.add_worksheet(name)
        for col, column in enumerate(frame.columns):
            sheet.write_string(0, col, column, header)
            sheet.set_column(col, col, 14)
        for r, row in enumerate(frame.iter_rows(), start=1):
            for col, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, bool):
                    sheet.write_string(r, col, "是" if value else "否")
                elif isinstance(value, int | float):
                    sheet.write_number(r, col, value)
                else:
                    sheet.write_string(r, col, str(value))
    notes = book.add_worksheet("说明")
    lines = [
        f"整改成效评估：{round_name}",
        f"评估截至：{evaluation.as_of.isoformat()}",
        f"数据版本：{evaluation.data_version}",
        *([f"存档范围：{covers}"] if covers else []),
        f"评估配置：{evaluation.config.describe_source()}",
        f"等次线：{evaluation.config.describe_grades()}",
        f"样本不足：{small_sample_note(evaluation.min_findings)}",
        evaluation.rule.describe(),
        f"导出人：{who.describe()}",
        "计算方法：",
        *METHOD.splitlines(),
        SELF_REPORTED_DEFINITION,
    ]
    for r, line in enumerate(lines):
        notes.write_string(r, 0, line)
    notes.set_column(0, 0, 120)
    book.close()
    return buffer.getvalue()


def evaluate_round(
    reader: Reader,
    round_id: int,
    who: Access,
    *,
    as_of: dt.date,
    config: EvaluationConfig | None = None,
    rule: PeriodRule | None = None,
) -> Evaluation:
    """The whole round's evaluation within `who`'s own scope as of `as_of`: no page filter
    (unit, category, sector …) narrows it."""
    seq = reader.query("rounds_list").filter(pl.col("round_id") == round_id)["seq"]
    if seq.is_empty():
        raise ArchiveError(f"没有这个轮次：{round_id}")
    filters = Filters(round_from=int(seq[0]), round_to=int(seq[0]), as_of=as_of)
    scope = resolve_scope(reader, filters, access=who)
    return evaluate(reader, scope, config, rule=rule, round_id=round_id)


def save(
    store: Store,
    reader: Reader,
    round_id: int,
    who: Access,
    *,
    as_of: dt.date,
    config: EvaluationConfig | None = None,
    rule: PeriodRule | None = None,
) -> tuple[str, dict[str, Any]]:
    """Archive one round's evaluation as of `as_of`, over the whole round within `who`'s own
    scope (`evaluate_round`); returns its id and the JSON record. Pins the data version and
    records an audit entry; nothing is left when the audit record cannot be written."""
    who.require(EVALUATE)
    audit.check_before_write(store.root, "评估存档")
    part = evaluate_round(reader, round_id, who, as_of=as_of, config=config, rule=rule)
    units = part.units
    if units.is_empty():
        raise ArchiveError("所选轮次在本账号范围内没有截至评估日已反馈的单位，无法存档")
    round_name = str(units["round_name"][0])
    covers = coverage(units.height, who)
    key = store.key()  # before anything is made: a bad key leaves no empty folder
    now = dt.datetime.now()
    archive_id = f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    folder = Path(store.root) / FOLDER / archive_id
    xlsx = workbook(part, round_name, who, covers=covers)
    record = {
        "archive_id": archive_id,
        "round_id": round_id,
        "round_name": round_name,
        "as_of": part.as_of.isoformat(),
        "data_version": part.data_version,
        "config": {
            "digest": part.config.digest(),
            "source": part.config.describe_source(),
            "values": part.config.scoring_values(),
        },
        "period_rule": {"min_months": part.rule.min_months, "max_months": part.rule.max_months},
        "min_findings": part.min_findings,
        "user": who.user,
        "scope": who.describe(),
        "scoped": who.scoped,
        "covers": {"whole_round": True, "units": units.height, "text": covers},
        "created": now.isoformat(),
        "xlsx_sha256": hashlib.sha256(xlsx).hexdigest(),
        "units": part.units.to_dicts(),
        "items": part.items.to_dicts(),
        "entries": part.entries.to_dicts(),
    }
    text = json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True, default=str)
    reason = f"evaluation {archive_id}"
    folder.mkdir(parents=True, mode=0o700)
    pinned = False
    try:
        _write(folder / "evaluation.json", text.encode("utf-8"), key)
        _write(folder / "evaluation.xlsx", xlsx, key)
        store.pin(part.data_version, reason)
        pinned = True
        audit.record(
            store.root,
            user=who.user,
            action="evaluation_archive",
            archive_id=archive_id,
            round_id=round_id,
            data_version=part.data_version,
            config_digest=part.config.digest(),
            units=units.height,
            scope=who.describe(),
            xlsx_sha256=record["xlsx_sha256"],
        )
    except BaseException as exc:
        shutil.rmtree(folder, ignore_errors=True)
        if pinned:
            store.unpin(part.data_version, reason)
        if isinstance(exc, audit.AuditError):
            raise ArchiveError(f"审计记录写入失败，评估未存档：{exc}") from exc
        raise
    return archive_id, record


def _visible(record: dict[str, Any], who: Access) -> bool:
    return not who.scoped or record.get("user") == who.user


def list_archives(store: Store, who: Access) -> list[dict[str, Any]]:
    """The archives `who` may see, newest first: id, round, date, data version, author, the
    author's scope, time, units."""
    root = Path(store.root) / FOLDER
    out: list[dict[str, Any]] = []
    if not root.is_dir():
        return out
    for folder in sorted(root.iterdir(), reverse=True):
        if not _ID.match(folder.name) or not (folder / "evaluation.json").is_file():
            continue
        record = json.loads(_read(folder / "evaluation.json", store).decode("utf-8"))
        if not _visible(record, who):
            continue
        out.append(
            {
                "archive_id": record["archive_id"],
                "round_name": record["round_name"],
                "as_of": record["as_of"],
                "data_version": record["data_version"],
                "user": record["user"],
                "scope": record.get("scope", ""),
                "created": record["created"],
                "units": len(record["units"]),
            }
        )
    return out


def load(store: Store, archive_id: str, who: Access) -> tuple[dict[str, Any], bytes]:
    """An archive's JSON record and its workbook, for someone who may see it (the same
    message for "not there" and "not yours")."""
    folder = Path(store.root) / FOLDER / archive_id
    if not _ID.match(archive_id) or not (folder / "evaluation.json").is_file():
        raise ArchiveError(f"没有编号为 {archive_id} 的评估存档")
    record = json.loads(_read(folder / "evaluation.json", store).decode("utf-8"))
    if not _visible(record, who):
        raise ArchiveError(f"没有编号为 {archive_id} 的评估存档")
    return record, _read(folder / "evaluation.xlsx", store)


def seal_all(store: Store, new_key: bytes, old_key: bytes | None = None) -> dict[str, int]:
    """Bring every archived evaluation file under `new_key` (plain ones sealed in place, ones
    under `old_key` re-sealed, ones already under `new_key` left), for ``xuncha key seal`` and
    ``xuncha key rotate``; ArchiveError naming the file when one cannot be (files done before
    stay done, so the run can be repeated)."""
    counts = dict.fromkeys(
        ("evaluation_files_sealed", "evaluation_files_rotated", "evaluation_files_unchanged"), 0
    )
    root = Path(store.root) / FOLDER
    if not root.is_dir():
        return counts
    for folder in sorted(root.iterdir()):
        if not _ID.match(folder.name) or not folder.is_dir():
            continue
        for name in FILES:
            path = folder / name
            if not path.is_file():
                continue
            try:
                counts[f"evaluation_files_{crypto.reseal(path, new_key, old_key)}"] += 1
            except crypto.CryptoError as exc:
                where = f"{folder.name}/{name}"
                detail = str(exc).replace(str(path), where)
                raise ArchiveError(f"评估存档 {where} 未能加密：{detail}") from None
    return counts

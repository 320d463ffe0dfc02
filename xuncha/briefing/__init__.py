"""The leadership briefing (领导简报): drafted from the figures, edited by its author, written
as an official Word document, archived with everything needed to make it again.

    draft   content.draft_briefing   figures → Briefing (sections of generated sentences,
                                     tables with totals, charts as Plotly JSON)
    keep    archive.save_draft       the request, data version (pinned) and configuration
    write   docx.write_docx          Briefing → .docx (A4, 一、（一）1., east-Asian fonts,
                                     charts rendered on the server, footer with the scope)
    final   finalise                 the edited Briefing → .docx (+ .pdf) in the archive
    again   regenerate               the same request on the same data version and config
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from xuncha import figures
from xuncha.auth.access import BRIEFING, Access
from xuncha.briefing import archive
from xuncha.briefing.content import BriefingError, BriefingRequest, draft_briefing
from xuncha.briefing.model import Briefing, Chart, Paragraph, Section, Table
from xuncha.figures import periods
from xuncha.filters import Filters, Scope, resolve_scope
from xuncha.store.reader import Reader, open_reader
from xuncha.store.store import Store

__all__ = [
    "Briefing",
    "BriefingError",
    "BriefingRequest",
    "Chart",
    "Paragraph",
    "Section",
    "Table",
    "archive",
    "archive_owner",
    "chart_figure",
    "draft_briefing",
    "finalise",
    "generate",
    "regenerate",
    "regenerate_as",
    "render_files",
    "request_record",
]

Resolver = Callable[[Reader], Callable[[Filters], Scope]]


def chart_figure(chart: Chart) -> Any:
    """The Plotly figure of an archived chart block."""
    import plotly.graph_objects as go

    return go.Figure(chart.figure)


def request_record(
    request: BriefingRequest,
    reader: Reader,
    *,
    scope_text: str,
    clue_details: bool,
    access: Access | None = None,
) -> dict[str, Any]:
    """The request as archived: enough to draft the same briefing again, including the
    author's role and scope (it is drafted again through them, whoever asks)."""
    config = request.ecology_config or figures.EcologyConfig.load(None)
    who = access or Access.system()
    return {
        "access": {
            "user": who.user,
            "role": who.role,
            "rounds": list(who.rounds) if who.rounds is not None else None,
            "units": list(who.units) if who.units is not None else None,
        },
        "filters": request.filters.to_url(),
        "title": request.title,
        "issuer": request.issuer,
        "suggestions": list(request.suggestions),
        "data_version": reader.version,
        "config": config.to_dict(),
        "config_digest": config.digest(),
        "period_rule": dataclasses.asdict(
            request.period_rule or periods.rule_for_store(reader.store.root)
        ),
        "scope_text": scope_text,
        "clue_details": clue_details,
    }


def request_from_record(record: dict[str, Any]) -> BriefingRequest:
    config = figures.EcologyConfig.from_dict(record["config"], source="简报存档的配置")
    return BriefingRequest(
        filters=Filters.from_url(record["filters"]),
        title=record.get("title"),
        issuer=record.get("issuer", "市委巡察办"),
        suggestions=tuple(record.get("suggestions", [])),
        ecology_config=config,
        # Archives from before the rule was kept: the defaults, which every store had then.
        period_rule=periods.PeriodRule(**record.get("period_rule", {})),
    )


def generate(
    store: Store,
    reader: Reader,
    request: BriefingRequest,
    resolve: Callable[[Filters], Scope],
    *,
    user: str,
    scope_text: str,
    clue_details: bool = False,
    today: dt.date | None = None,
    access: Access | None = None,
) -> tuple[str, Briefing]:
    """Draft a briefing and archive the draft; returns (briefing id, draft).

    The as-of date is fixed in the archived request (a briefing "as of today" drafted again
    tomorrow must still say today)."""
    as_of = request.filters.effective_as_of(today)
    fixed = BriefingRequest(
        filters=request.filters.with_(as_of=as_of),
        title=request.title,
        issuer=request.issuer,
        suggestions=request.suggestions,
        ecology_config=request.ecology_config,
        period_rule=request.period_rule or periods.rule_for_store(store.root),
        meta={**request.meta, "data_version": reader.version},
    )
    briefing = draft_briefing(
        reader, fixed, resolve, scope_text=scope_text, clue_details=clue_details
    )
    record = request_record(
        fixed, reader, scope_text=scope_text, clue_details=clue_details, access=access
    )
    briefing_id = archive.save_draft(store, briefing, record, user=user)
    briefing.meta["briefing_id"] = briefing_id
    briefing.meta["user"] = user
    return briefing_id, briefing


def author_access(record: dict[str, Any]) -> Access:
    """The access an archived briefing was drafted with (the system's for old archives)."""
    saved = record.get("access") or {}
    role = saved.get("role")
    if not role or role == "system":
        return Access.system(str(saved.get("user") or record.get("user") or "system"))
    return Access.for_role(
        str(saved["user"]), role, rounds=saved.get("rounds"), units=saved.get("units")
    )


def regenerate(
    store: Store, briefing_id: str, resolver: Resolver | None = None
) -> tuple[Briefing, bool]:
    """Draft an archived briefing again from its request, on its (pinned) data version and
    its configuration, through its author's recorded scope (or `resolver`). Returns the new
    draft and whether it equals the archived one."""
    kept = archive.load(store, briefing_id)
    record = kept.request
    if resolver is None:
        author = author_access(record)

        def resolver(reader: Reader) -> Callable[[Filters], Scope]:
            return lambda filters: resolve_scope(reader, filters, access=author)

    request = request_from_record(record)
    reader = open_reader(store, int(record["data_version"]))
    try:
        fixed = BriefingRequest(
            filters=request.filters,
            title=request.title,
            issuer=request.issuer,
            suggestions=request.suggestions,
            ecology_config=request.ecology_config,
            period_rule=request.period_rule,
            meta={"data_version": reader.version},
        )
        again = draft_briefing(
            reader,
            fixed,
            resolver(reader),
            scope_text=record.get("scope_text", ""),
            clue_details=bool(record.get("clue_details")),
        )
    finally:
        reader.close()
    same = archive.comparable(again) == archive.comparable(kept.draft)
    return again, same


def archive_owner(who: Access) -> str | None:
    """Whose archived briefings `who` may list and draft again: everyone's (None) for a role
    that may draft briefings and has no scope; otherwise only their own."""
    return None if who.can(BRIEFING) and not who.scoped else who.user


def regenerate_as(store: Store, briefing_id: str, who: Access) -> tuple[Briefing, bool]:
    """`regenerate`, asked by `who`: ArchiveError when it is not a briefing they may draft
    again (archive_owner)."""
    owner = archive_owner(who)
    if owner is not None and archive.load(store, briefing_id).request.get("user") != owner:
        raise archive.ArchiveError(f"{who.user}：只能重新生成本人起草的简报")
    return regenerate(store, briefing_id)


def render_files(briefing: Briefing, *, pdf: bool = True) -> tuple[bytes, bytes | None, str | None]:
    """The briefing as .docx (and .pdf when asked and LibreOffice is installed), charts
    rendered on the server. Returns (docx, pdf or None, a note when charts could not be
    drawn)."""
    from xuncha.briefing import docx, render  # Chromium and LibreOffice only when needed

    images, note = render.render_charts(briefing)
    data = docx.write_docx(briefing, chart_images=images, charts_note=note)
    pdf_bytes = render.docx_bytes_to_pdf(data) if pdf else None
    return data, pdf_bytes, note


def finalise(
    store: Store,
    briefing_id: str,
    briefing: Briefing,
    *,
    user: str,
    pdf: bool = True,
) -> tuple[bytes, bytes | None, str | None]:
    """Write the (edited) briefing as .docx (and .pdf when LibreOffice is installed), keep
    both in the archive. Returns (docx, pdf or None, a note when charts could not be drawn)."""
    data, pdf_bytes, note = render_files(briefing, pdf=pdf)
    archive.save_final(store, briefing_id, briefing, data, user=user, pdf=pdf_bytes)
    return data, pdf_bytes, note

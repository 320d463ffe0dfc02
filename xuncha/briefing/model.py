"""The briefing as data: what the content builder produces, the page lets a user edit, the
archive keeps as JSON, and the .docx writer lays out.

A briefing is a title, a few lines under it, and an ordered list of sections. A section has a
level (1 → "一、", 2 → "（一）", 3 → "1."; numbers are given by the writer, never stored in
the heading text) and blocks: paragraphs, tables and charts. Charts are kept as Plotly JSON so
an archived briefing can be drawn again identically; the writer renders them to PNG.

Everything here is plain data that round-trips through `to_dict`/`from_dict` (JSON-safe:
str, int, float, None, lists and dicts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Cell = str | int | float | None


@dataclass
class Paragraph:
    text: str
    # A paragraph the user wrote (下步工作建议) rather than one generated from the figures.
    written: bool = False
    kind: Literal["paragraph"] = "paragraph"


@dataclass
class Table:
    caption: str  # e.g. "表1 各单位整改进展"; the writer does not add its own number
    columns: list[str]
    rows: list[list[Cell]]
    total: list[Cell] | None = None  # the 合计 row, already computed by the content builder
    note: str = ""  # a line under the table (source, definitions)
    # Per column: "text" | "int" | "rate" (a percentage with two decimals) | "number".
    formats: list[str] = field(default_factory=list)
    kind: Literal["table"] = "table"


@dataclass
class Chart:
    caption: str  # e.g. "图1 各轮次问题数与整改完成率"
    figure: dict[str, Any]  # plotly `fig.to_plotly_json()` output
    width_px: int = 900
    height_px: int = 420
    kind: Literal["chart"] = "chart"


Block = Paragraph | Table | Chart


@dataclass
class Section:
    key: str  # stable identifier: "overall", "distribution", "progress", ...
    heading: str  # without its number
    level: int = 1
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Briefing:
    title: str  # e.g. "关于2026年第一轮巡察整改情况的报告"
    subtitle_lines: list[str]  # lines under the title, e.g. "（截至2026年11月25日）"
    sections: list[Section]
    # Footer (every page): scope, as-of date and the confidentiality mark.
    scope_text: str = ""
    as_of: str = ""  # ISO date
    marking: str = "内部资料 注意保密"
    # Where it came from: parameters, data version, configuration digest, author, time.
    meta: dict[str, Any] = field(default_factory=dict)

    def footer_text(self) -> str:
        parts = [p for p in (self.scope_text, f"截至 {self.as_of}" if self.as_of else "") if p]
        parts.append(self.marking)
        return "｜".join(parts)

    def with_edits(self, texts: Mapping[tuple[int, int], str]) -> Briefing:
        """A copy with the paragraphs a user edited: `texts[(section, block)]` is the text
        of that paragraph as edited (a paragraph not in `texts` keeps its own), stripped; an
        emptied paragraph is dropped; 下步工作建议 (the `suggestions` section) are split into
        paragraphs at blank lines, each marked as written by the user. Tables and charts are
        kept as they are."""
        edited = Briefing.from_dict(self.to_dict())
        for s, section in enumerate(edited.sections):
            blocks: list[Block] = []
            for b, block in enumerate(section.blocks):
                if isinstance(block, Paragraph):
                    text = str(texts.get((s, b), block.text)).strip()
                    if section.key == "suggestions":
                        paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
                        blocks.extend(Paragraph(p, written=True) for p in paragraphs)
                    elif text:
                        blocks.append(Paragraph(text, written=block.written))
                else:
                    blocks.append(block)
            section.blocks = blocks
        return edited

    # -- JSON ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "subtitle_lines": list(self.subtitle_lines),
            "scope_text": self.scope_text,
            "as_of": self.as_of,
            "marking": self.marking,
            "meta": self.meta,
            "sections": [
                {
                    "key": s.key,
                    "heading": s.heading,
                    "level": s.level,
                    "blocks": [_block_dict(b) for b in s.blocks],
                }
                for s in self.sections
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Briefing:
        return cls(
            title=data["title"],
            subtitle_lines=list(data.get("subtitle_lines", [])),
            scope_text=data.get("scope_text", ""),
            as_of=data.get("as_of", ""),
            marking=data.get("marking", "内部资料 注意保密"),
            meta=dict(data.get("meta", {})),
            sections=[
                Section(
                    key=s["key"],
                    heading=s["heading"],
                    level=int(s.get("level", 1)),
                    blocks=[_block_from(b) for b in s.get("blocks", [])],
                )
                for s in data["sections"]
            ],
        )


def _block_dict(block: Block) -> dict[str, Any]:
    if isinstance(block, Paragraph):
        return {"kind": "paragraph", "text": block.text, "written": block.written}
    if isinstance(block, Table):
        return {
            "kind": "table",
            "caption": block.caption,
            "columns": list(block.columns),
            "rows": [list(r) for r in block.rows],
            "total": list(block.total) if block.total is not None else None,
            "note": block.note,
            "formats": list(block.formats),
        }
    return {
        "kind": "chart",
        "caption": block.caption,
        "figure": block.figure,
        "width_px": block.width_px,
        "height_px": block.height_px,
    }


def _block_from(data: dict[str, Any]) -> Block:
    kind = data.get("kind")
    if kind == "paragraph":
        return Paragraph(text=data["text"], written=bool(data.get("written", False)))
    if kind == "table":
        return Table(
            caption=data["caption"],
            columns=list(data["columns"]),
            rows=[list(r) for r in data["rows"]],
            total=list(data["total"]) if data.get("total") is not None else None,
            note=data.get("note", ""),
            formats=list(data.get("formats", [])),
        )
    if kind == "chart":
        return Chart(
            caption=data["caption"],
            figure=data["figure"],
            width_px=int(data.get("width_px", 900)),
            height_px=int(data.get("height_px", 420)),
        )
    raise ValueError(f"unknown block kind {kind!r}")

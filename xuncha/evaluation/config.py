"""The 整改成效评估 scorecard's configuration: its items, points, deduction rules, 一票否决 items
and grade bands, in TOML like the ecology weights, never in code.

The packaged default is xuncha/evaluation_default.toml; an administrator's file is kept in the
store as STORE/config/evaluation.toml. Every top-level table the store's file gives replaces
the default's table of that name whole (a scorecard is read as written: an item left out of
the file is not scored, rather than coming back from the defaults). Every value is checked
(EvaluationConfigError, in Chinese) before anything is scored or saved, and the points of the
scored items (automatic and manual) must add up to `total`, so a score is out of 100 points
as the commissions' own 评估办法 are.

The digest (SHA-256 of the scoring values in canonical JSON: not labels nor help texts) is
recorded with every result, so two results with one digest were computed the same way.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# One vocabulary of grades with the 政治生态研判参考 (best first); the evaluation's own grade
# lines are in its configuration.
from xuncha.config_files import read_toml, write_atomically
from xuncha.figures.ecology import GRADE_KEYS, GRADES

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "evaluation_default.toml"
STORE_CONFIG = Path("config") / "evaluation.toml"
CONFIG_FORMAT = 1

VETO_GRADE = GRADES[-1]
DEFAULT_SOURCE = "默认配置"

# source → (kind, label): rates come from figures.rates.DEFINITIONS, counts from the figures
# of rectification (DOMAIN.md §5), online rectification (§8) and the outcomes (成效).
RATE_SOURCES = {
    "completion_rate": "整改完成率",
    "completion_rate_lenient": "含基本完成的完成率",
    "measure_completion_rate": "措施完成率",
    "on_time_rate": "按期完成率（原定时限）",
}
COUNT_SOURCES = {
    "overdue_measures": "逾期措施数",
    "overdue_findings": "有逾期措施的问题数",
    "rebound_findings": "反弹问题数",
    "repeat_findings": "重复问题数",
    "returns": "退回次数",
    "regulations": "建章立制数",
}
METHODS = {"rate": RATE_SOURCES, "deduct": COUNT_SOURCES, "target": COUNT_SOURCES}
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class EvaluationConfigError(ValueError):
    """The configuration cannot be read or says something impossible (message in Chinese)."""


@dataclass(frozen=True)
class AutoItem:
    """An item computed from the figures: points × rate, points − per × count, or
    points × min(1, count ÷ target)."""

    key: str
    label: str
    source: str
    method: str
    points: float
    per: float | None = None
    target: float | None = None
    help: str = ""

    def rule(self) -> str:
        """The rule in the words users read."""
        what = {**RATE_SOURCES, **COUNT_SOURCES}[self.source]
        if self.method == "rate":
            return f"满分 {self.points:g} 分 × {what}"
        if self.method == "deduct":
            return f"满分 {self.points:g} 分，{what}每个扣 {self.per:g} 分，扣完为止"
        return f"满分 {self.points:g} 分 × {what} ÷ {self.target:g}，满 {self.target:g} 项计满分"


@dataclass(frozen=True)
class ManualItem:
    """An item entered by a person (0 to points) and confirmed by another."""

    key: str
    label: str
    points: float
    help: str = ""


@dataclass(frozen=True)
class VetoItem:
    """A 一票否决 item: when confirmed as 成立, the grade is 差 whatever the points."""

    key: str
    label: str
    help: str = ""


@dataclass(frozen=True)
class EvaluationConfig:
    total: float
    grades: Mapping[str, float]
    auto: tuple[AutoItem, ...]
    manual: tuple[ManualItem, ...]
    veto: tuple[VetoItem, ...]
    source: str = field(default=DEFAULT_SOURCE, compare=False)
    saved_on: dt.date | None = field(default=None, compare=False)

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> EvaluationConfig:
        """The default configuration, or a file read over it (its tables replace the
        default's tables of the same name)."""
        defaults = read_toml(DEFAULT_CONFIG, "评估配置文件", EvaluationConfigError)
        if path is None:
            return _validate(defaults, DEFAULT_SOURCE)
        given = read_toml(Path(path), "评估配置文件", EvaluationConfigError)
        config = _validate({**defaults, **given}, str(path))
        saved = dt.date.fromtimestamp(Path(path).stat().st_mtime)
        return dataclasses.replace(config, saved_on=saved)

    @classmethod
    def from_toml(cls, text: str, source: str = "编辑的配置") -> EvaluationConfig:
        try:
            given = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise EvaluationConfigError(f"{source}不是有效的 TOML（{exc}）") from None
        return _validate(
            {**read_toml(DEFAULT_CONFIG, "评估配置文件", EvaluationConfigError), **given}, source
        )

    def scored_items(self) -> tuple[AutoItem | ManualItem, ...]:
        """The items that carry points, in order: automatic, then manual."""
        return (*self.auto, *self.manual)

    def entered_items(self) -> tuple[ManualItem | VetoItem, ...]:
        """The items people enter: manual, then 一票否决."""
        return (*self.manual, *self.veto)

    def item_keys(self) -> tuple[str, ...]:
        return tuple(i.key for i in (*self.scored_items(), *self.veto))

    def manual_item(self, key: str) -> ManualItem | VetoItem | None:
        """The manual or veto item of that key (None: not an entered item)."""
        for item in self.entered_items():
            if item.key == key:
                return item
        return None

    def scoring_values(self) -> dict[str, Any]:
        """What changes a result: what the digest covers and every result records."""
        return {
            "total": self.total,
            "grades": dict(self.grades),
            "auto": [
                {
                    "key": i.key,
                    "source": i.source,
                    "method": i.method,
                    "points": i.points,
                    "per": i.per,
                    "target": i.target,
                }
                for i in self.auto
            ],
            "manual": [{"key": i.key, "points": i.points} for i in self.manual],
            "veto": [i.key for i in self.veto],
        }

    def digest(self) -> str:
        text = json.dumps(
            self.scoring_values(), sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def describe_source(self) -> str:
        """Which configuration, in the words a reader of a result reads (no file name)."""
        if self.source == DEFAULT_SOURCE:
            return "内置默认配置"
        if self.saved_on is not None:
            return f"本数据仓配置（保存于 {self.saved_on.isoformat()}）"
        return "本数据仓配置"

    def __hash__(self) -> int:  # for caches keyed on the configuration
        return hash(self.digest())

    def grade_for(self, score: float) -> str:
        for grade, key in zip(GRADES, GRADE_KEYS, strict=False):
            if score >= self.grades[key]:
                return grade
        return GRADES[-1]

    def describe_grades(self) -> str:
        lines = [
            f"{grade} ≥ {self.grades[key]:g} 分"
            for grade, key in zip(GRADES, GRADE_KEYS, strict=False)
        ]
        return "，".join([*lines, f"{GRADES[-1]} < {self.grades[GRADE_KEYS[-1]]:g} 分"])


def store_config_path(store_root: str | os.PathLike[str]) -> Path:
    return Path(store_root) / STORE_CONFIG


def config_for_store(store_root: str | os.PathLike[str]) -> EvaluationConfig:
    """The store's configuration when an administrator saved one, else the defaults."""
    path = store_config_path(store_root)
    return EvaluationConfig.load(path if path.is_file() else None)


def save_config_text(store_root: str | os.PathLike[str], text: str) -> EvaluationConfig:
    """Validate a configuration file's text and keep it as the store's (comments and all),
    atomically: a temporary file in the folder, flushed, renamed over the target. Nothing is
    written when it is not valid (EvaluationConfigError)."""
    target = store_config_path(store_root)
    config = EvaluationConfig.from_toml(text, source=str(target))
    target.parent.mkdir(mode=0o700, exist_ok=True)
    write_atomically(target, text)
    return config


# -- reading and checking --------------------------------------------------------------------


def _number(value: Any, where: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise EvaluationConfigError(f"{where} 须为数字，现为 {value!r}")
    if math.isinf(value):
        raise EvaluationConfigError(f"{where} 须为有限的数字，现为 {value!r}")
    if value < 0 or (positive and value == 0):
        raise EvaluationConfigError(
            f"{where} 须{'大于 0' if positive else '不小于 0'}，现为 {value!r}"
        )
    return float(value)


def _text(value: Any, where: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise EvaluationConfigError(f"{where} 须为非空文字，现为 {value!r}")
    return value.strip()


def _section(data: Mapping[str, Any], name: str) -> dict[str, Mapping[str, Any]]:
    table = data.get(name, {})
    if not isinstance(table, Mapping):
        raise EvaluationConfigError(f"配置项 [{name}] 须为一节（表），现为 {table!r}")
    for key, spec in table.items():
        if not _KEY.match(key):
            raise EvaluationConfigError(
                f"评分项的键 {name}.{key} 不合规：须以小写字母开头，只含小写字母、数字和下划线"
            )
        if not isinstance(spec, Mapping):
            raise EvaluationConfigError(f"[{name}.{key}] 须为一节（表）")
    return dict(table)


def _only(spec: Mapping[str, Any], where: str, allowed: tuple[str, ...]) -> None:
    extra = [k for k in spec if k not in allowed]
    if extra:
        raise EvaluationConfigError(
            f"[{where}] 中有未知的项：{'、'.join(extra)}（可用：{'、'.join(allowed)}）"
        )


def _auto(key: str, spec: Mapping[str, Any]) -> AutoItem:
    where = f"auto.{key}"
    _only(spec, where, ("label", "source", "method", "points", "per", "target", "help"))
    method = spec.get("method")
    if method not in METHODS:
        raise EvaluationConfigError(
            f"[{where}] 的 method 须为 {'、'.join(METHODS)} 之一，现为 {method!r}"
        )
    sources = METHODS[method]
    source = spec.get("source")
    if source not in sources:
        raise EvaluationConfigError(
            f"[{where}] 的 source 在 method = {method} 时须为 {'、'.join(sources)} 之一，"
            f"现为 {source!r}"
        )
    per = target = None
    if method == "deduct":
        per = _number(spec.get("per"), f"[{where}] 的 per（每个扣分）", positive=True)
    elif "per" in spec:
        raise EvaluationConfigError(f"[{where}] 的 per 只用于 method = deduct")
    if method == "target":
        target = _number(spec.get("target"), f"[{where}] 的 target（满分所需个数）", positive=True)
    elif "target" in spec:
        raise EvaluationConfigError(f"[{where}] 的 target 只用于 method = target")
    return AutoItem(
        key=key,
        label=_text(spec.get("label"), f"[{where}] 的 label"),
        source=str(source),
        method=str(method),
        points=_number(spec.get("points"), f"[{where}] 的 points（满分）", positive=True),
        per=per,
        target=target,
        help=_text(spec.get("help"), f"[{where}] 的 help", required=False),
    )


def _validate(data: Mapping[str, Any], source: str) -> EvaluationConfig:
    top = ("format", "total", "grades", "auto", "manual", "veto")
    _only(data, "评估配置", top)
    if data.get("format", CONFIG_FORMAT) != CONFIG_FORMAT:
        raise EvaluationConfigError(
            f"评估配置格式版本 {data.get('format')!r} 不受支持（应为 {CONFIG_FORMAT}）"
        )
    total = _number(data.get("total"), "总分 total", positive=True)

    grades_raw = data.get("grades")
    if not isinstance(grades_raw, Mapping):
        raise EvaluationConfigError("配置项 [grades] 须为一节（表）")
    _only(grades_raw, "grades", GRADE_KEYS)
    missing = [k for k in GRADE_KEYS if k not in grades_raw]
    if missing:
        raise EvaluationConfigError(f"[grades] 缺少等次线：{'、'.join(missing)}")
    grades = {k: _number(grades_raw[k], f"等次线 {k}") for k in GRADE_KEYS}
    if not total >= grades["good"] > grades["fairly_good"] > grades["average"] >= 0:
        raise EvaluationConfigError(
            f"等次线须满足 总分（{total:g}）≥ 好（good）> 较好（fairly_good）> 一般（average）≥ 0，"
            f"现为 {grades['good']:g}、{grades['fairly_good']:g}、{grades['average']:g}"
        )

    auto = tuple(_auto(k, s) for k, s in _section(data, "auto").items())
    manual: list[ManualItem] = []
    for key, spec in _section(data, "manual").items():
        _only(spec, f"manual.{key}", ("label", "points", "help"))
        manual.append(
            ManualItem(
                key=key,
                label=_text(spec.get("label"), f"[manual.{key}] 的 label"),
                points=_number(
                    spec.get("points"), f"[manual.{key}] 的 points（满分）", positive=True
                ),
                help=_text(spec.get("help"), f"[manual.{key}] 的 help", required=False),
            )
        )
    veto: list[VetoItem] = []
    for key, spec in _section(data, "veto").items():
        _only(spec, f"veto.{key}", ("label", "help"))
        veto.append(
            VetoItem(
                key=key,
                label=_text(spec.get("label"), f"[veto.{key}] 的 label"),
                help=_text(spec.get("help"), f"[veto.{key}] 的 help", required=False),
            )
        )
    if not auto and not manual:
        raise EvaluationConfigError("评估配置中没有评分项（[auto] 和 [manual] 均为空）")
    keys = [*(i.key for i in auto), *(i.key for i in manual), *(i.key for i in veto)]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise EvaluationConfigError(f"评分项的键重复：{'、'.join(twice)}（各节之间也不能重复）")
    points = sum(i.points for i in auto) + sum(i.points for i in manual)
    if abs(points - total) > 1e-9:
        raise EvaluationConfigError(
            f"各评分项满分之和（{points:g} 分）须等于总分 total（{total:g} 分）"
        )
    return EvaluationConfig(
        total=total,
        grades=grades,
        auto=auto,
        manual=tuple(manual),
        veto=tuple(veto),
        source=source,
    )

"""The priority rule of the 回头看 candidates: points per reason, read from a TOML file.

The rule is configuration, not code, because each commission weighs its reasons differently
(江津 puts every unit graded 差 on the list; others weigh 反弹 first). The built-in values are
xuncha/revisit_default.toml; a store may override any of them in STORE/config/revisit.toml
(keys it omits keep their defaults). Every value is checked when read, with errors in Chinese
naming the key, so a wrong file stops the list instead of ranking units by a rule nobody stated.
`describe` gives the rule in words, for the page, the export's 说明 sheet and the command line.

What counts as a significant 反弹 (显著反弹) is not set here: it is the rebound cap of the
political-ecology configuration (EcologyConfig.caps `rebound_rate_above`,
`rebound_findings_at_least`, the store's STORE/config/ecology.toml), one definition for the
scorecards and this list. The two values are carried by the rule (`rebound_rate_above`,
`rebound_findings_at_least`) so its digest and its words change with them. A rule file that
still sets the retired `[rebound] min_findings` / `min_rate` is refused, naming where the level
now lives, rather than silently ranking by a level the commission did not choose.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from xuncha.config_files import merge, read_toml
from xuncha.figures.ecology import STORE_CONFIG as ECOLOGY_STORE_CONFIG
from xuncha.figures.ecology import EcologyConfig, config_for_store

DEFAULT_RULE = Path(__file__).resolve().parents[1] / "revisit_default.toml"
STORE_RULE = Path("config") / "revisit.toml"
RULE_FORMAT = 1

# section → key → (attribute, whether it must be a whole number)
_KEYS: dict[str, dict[str, tuple[str, bool]]] = {
    "evaluation": {
        "poor": ("evaluation_poor", False),
        "average": ("evaluation_average", False),
        "veto": ("evaluation_veto", False),
    },
    "rebound": {"points": ("rebound_points", False)},
    "overdue": {"points_per_10": ("overdue_points_per_10", False)},
    "since": {
        "after_years": ("since_after_years", True),
        "points_per_year": ("since_points_per_year", False),
    },
    "ecology": {"declining": ("ecology_declining", False), "poor": ("ecology_poor", False)},
    "list": {"min_points": ("min_points", False)},
}
# Keys of earlier rule files whose meaning moved elsewhere: section → keys → where it lives now.
_RETIRED: dict[str, tuple[tuple[str, ...], str]] = {
    "rebound": (
        ("min_findings", "min_rate"),
        "显著反弹的标准已统一为政治生态配置的反弹封顶线"
        f"（数据仓 {ECOLOGY_STORE_CONFIG.as_posix()} 的 [caps] rebound_rate_above、"
        "rebound_findings_at_least，可在“政治生态配置”页修改），回头看名单与政治生态研判"
        "采用同一标准；请从回头看规则文件中删除这两项",
    )
}


class RevisitRuleError(ValueError):
    """A rule file that cannot be used; the message (Chinese) names the key."""


@dataclass(frozen=True)
class RevisitRule:
    """Points per reason (see revisit_default.toml for what each one means)."""

    evaluation_poor: float
    evaluation_average: float
    evaluation_veto: float
    rebound_points: float
    overdue_points_per_10: float
    since_after_years: int
    since_points_per_year: float
    ecology_declining: float
    ecology_poor: float
    min_points: float
    # 显著反弹, from the ecology configuration (not the rule file): a rate above the first,
    # with at least the second number of 反弹 findings.
    rebound_rate_above: float = 75.0
    rebound_findings_at_least: int = 3
    source: str = field(default="默认规则", compare=False)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        ecology: EcologyConfig | None = None,
    ) -> RevisitRule:
        """The built-in rule, or a TOML file read over it; the 显著反弹 level from `ecology`
        (None: the default ecology configuration)."""
        defaults = read_toml(DEFAULT_RULE, "回头看规则文件", RevisitRuleError)
        if path is None:
            return cls.from_dict(defaults, source="默认规则", ecology=ecology)
        merged = merge(defaults, read_toml(Path(path), "回头看规则文件", RevisitRuleError))
        return cls.from_dict(merged, source=str(path), ecology=ecology)

    @classmethod
    def for_store(
        cls, store_root: str | os.PathLike[str], path: str | os.PathLike[str] | None = None
    ) -> RevisitRule:
        """The store's rule (STORE/config/revisit.toml, or `path` when given) when there is
        one, else the default, with the store's 显著反弹 level (its ecology configuration;
        EcologyConfigError when that cannot be read)."""
        if path is None:
            own = Path(store_root) / STORE_RULE
            path = own if own.is_file() else None
        return cls.load(path, config_for_store(store_root))

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        source: str = "默认规则",
        ecology: EcologyConfig | None = None,
    ) -> RevisitRule:
        rule = _validate(data, source)
        caps = (ecology or EcologyConfig.load(None)).caps
        return replace(
            rule,
            rebound_rate_above=float(caps["rebound_rate_above"]),
            rebound_findings_at_least=int(caps["rebound_findings_at_least"]),
        )

    def significant_rebound(self) -> str:
        """The 显著反弹 level in words, as the reasons and the rule text name it."""
        return (
            f"显著反弹线（反弹率超过 {_n(self.rebound_rate_above)}%、"
            f"至少 {self.rebound_findings_at_least} 个）"
        )

    def values(self) -> dict[str, Any]:
        """The values that change the list (not where they were read from)."""
        out = asdict(self)
        out.pop("source")
        return out

    def digest(self) -> str:
        """SHA-256 (hex) of the values: two lists with the same digest used the same rule
        (also the key the page's figure cache uses)."""
        text = json.dumps(self.values(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def describe(self) -> list[str]:
        """The rule in words: the basis of each unit, one line per reason, then the order."""
        return [
            "依据：每个单位以其整改期已结束的最近一次巡察为依据（整改期按数据仓的整改期规则，"
            "一轮巡察的整改期在其每个被巡察单位的整改期都结束后结束）；巡察尚在整改期内的不作依据，"
            "只有尚在整改期内巡察的单位不列入名单；依据之后还有巡察尚在整改期内的，"
            "标注“××轮整改期内”，照常计分排序，供研究时考虑。",
            f"成效评估：依据巡察及以前最近一次整改成效评估为“差”计 {_n(self.evaluation_poor)} 分，"
            f"“一般”计 {_n(self.evaluation_average)} 分；一票否决计 "
            f"{_n(self.evaluation_veto)} 分（取代等次分）；暂评等次同样计分并注明“暂评”；"
            "问题少于样本线的单位，其等次仅供参考（样本不足），列出但不计分（一票否决照常计分）。",
            f"反弹：依据巡察的反弹问题（屡改屡犯）达到{self.significant_rebound()}，"
            f"计 {_n(self.rebound_points)} 分；显著反弹线即政治生态研判的反弹封顶线，"
            "两处采用同一标准。",
            f"逾期：依据巡察的整改措施逾期率每满 10 个百分点计 "
            f"{_n(self.overdue_points_per_10)} 分。",
            f"距上次巡察：自该单位最近一次巡察（含尚在整改期内的）反馈日期起满 "
            f"{self.since_after_years} 年后，"
            f"每再满一年计 {_n(self.since_points_per_year)} 分。",
            f"政治生态（研判参考）：依据巡察所在轮次的等次为“差”计 {_n(self.ecology_poor)} 分；"
            f"等次较上一轮下降但未降至“差”计 {_n(self.ecology_declining)} 分；"
            "降至“差”的是同一事实，只按两者中较高的一项计分；暂评等次注明“暂评”。",
            f"排序：总分达到 {_n(self.min_points)} 分的单位列入名单，按总分从高到低；"
            "总分相同时最近一次巡察反馈较早者在前，再按单位名称排序。",
        ]


def store_rule_path(store_root: str | os.PathLike[str]) -> Path:
    """Where a store's own rule is kept."""
    return Path(store_root) / STORE_RULE


def _n(value: float) -> str:
    return f"{value:g}"


def _validate(data: Mapping[str, Any], source: str) -> RevisitRule:
    where = f"（{source}）"
    if data.get("format", RULE_FORMAT) != RULE_FORMAT:
        raise RevisitRuleError(f"回头看规则的 format 须为 {RULE_FORMAT}{where}")
    unknown = sorted(set(data) - set(_KEYS) - {"format"})
    if unknown:
        raise RevisitRuleError(f"回头看规则有未知的配置节：{'、'.join(unknown)}{where}")
    values: dict[str, Any] = {}
    for section, keys in _KEYS.items():
        table = data.get(section)
        if not isinstance(table, Mapping):
            raise RevisitRuleError(f"回头看规则缺少配置节 [{section}]{where}")
        retired, where_now = _RETIRED.get(section, ((), ""))
        old = [key for key in retired if key in table]
        if old:
            raise RevisitRuleError(
                f"回头看规则 [{section}] 的 {'、'.join(old)} 已停用：{where_now}{where}"
            )
        extra = sorted(set(table) - set(keys))
        if extra:
            raise RevisitRuleError(
                f"回头看规则 [{section}] 有未知的配置项：{'、'.join(extra)}{where}"
            )
        for key, (attribute, whole) in keys.items():
            if key not in table:
                raise RevisitRuleError(f"回头看规则缺少 {section}.{key}{where}")
            values[attribute] = _number(table[key], f"{section}.{key}", whole, where)
    return RevisitRule(**values, source=source)


def _number(value: Any, name: str, whole: bool, where: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RevisitRuleError(f"回头看规则 {name} 须为数字，现为 {value!r}{where}")
    if value != value or value in (float("inf"), float("-inf")):
        raise RevisitRuleError(f"回头看规则 {name} 须为有限的数字{where}")
    if value < 0:
        raise RevisitRuleError(f"回头看规则 {name} 不能为负数，现为 {value:g}{where}")
    if whole:
        if value != int(value):
            raise RevisitRuleError(f"回头看规则 {name} 须为整数，现为 {value:g}{where}")
        return int(value)
    return float(value)

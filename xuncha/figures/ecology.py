"""Political-ecology scorecards (政治生态研判参考, DOMAIN.md §6): indicators per unit within its
peer group, normalised, weighted into a score and a grade with caps, and explained by the
findings, measures and clues behind them. Every output is labelled 研判参考.

The method, in the order it is applied (METHOD is the same text in Chinese for users):

1. Raw values. Each unit inspected in scope and fed back by the as-of date gets one raw value
   per indicator. The 整改 rates (completion, on-time, overdue) and the 重复/反弹 rates come
   from `figures.rectification(..., by="unit")`, so they are the very figures of DOMAIN.md §5.
   Counts (重点关注, 四风, 选人用人 findings, persons dealt with by the 第三、四种形态) are per
   inspection in scope: for one round, the usual scope, that is the count itself; over several
   rounds it keeps a unit inspected three times comparable with one inspected once. The two
   "vs peer median" indicators divide the unit's per-inspection value by the median of its
   peer group's reference units (below); when that median is 0 (clues often are) the mean is
   the reference, and when the mean is 0 too the per-inspection value is shown as it is.
2. Reference units. Units with fewer than `min_findings` findings are 样本不足: they get no
   grade and no rank, and they are left out of the peer statistics (medians, best and worst)
   so that a unit with two findings cannot set the scale for the others. Their indicators
   are still computed against their peers' scale, for information.
3. Missing values. An indicator is unavailable for a unit when it cannot be observed: the
   on-time rate before any measure with a deadline is completed, the overdue rate without
   measures, the 重复/反弹 rates of a unit never inspected in an earlier round (it cannot
   have repeats, and a 0 would reward being new), 建章立制 without an outcome record.
4. Normalisation (changed from DOMAIN.md §6's min–max by issue 20). Min–max within a peer
   group of two or three units scores every indicator 0 or 100 (best or worst of two), so a
   small group swings the grade. Each indicator now scores the unit's mid-rank percentile,
   direction applied: among m reference units, (worse + ½ × equal + ½) ÷ m × 100 (ties share
   the mid-rank; all equal gives 50, the neutral score; a 样本不足 unit is placed as if added
   to the group). The peer-group percentile is shrunk toward the unit's percentile among all
   reference units of the round (the population, every peer group together) with weight
   n ÷ (n + k) on the peer group, n its reference units having the indicator, k
   `shrinkage_k` in the configuration (default 4: a group of 2 counts one third, a group of
   12 three quarters). The peer median and the population median are kept for the words of
   the explanation ("低于同类组中位数 86.50%"). Percentiles rather than several rounds of
   the same group: rounds differ in units, season and type (专项, 回头看), and a round must be
   gradable on its own the day its period ends.
5. A dimension is the mean of its available, enabled indicators. The score is the weighted
   mean of the available dimensions: the configured weights are renormalised over the
   dimensions the unit has, so a missing dimension neither counts as 0 nor as 100.
   Equivalently, each indicator carries a weight share (dimension share ÷ indicators
   available in it) and score = 50 + Σ share × (normalised − 50): the contribution of an
   indicator, share × (normalised − 50), is how far it lifted (+) or lowered (−) the score
   from the neutral 50. The score is rounded to two decimals, half up, and graded on that.
6. Grades 好/较好/一般/差 by the thresholds. The score is a weighted mean of percentiles, so
   50 is "as good as the middle unit": the default lines (好 ≥ 62, 较好 ≥ 52, 一般 ≥ 40) were
   chosen on the demo city so that a finished round shows all four grades with most units
   较好 or 一般 (十四届第六轮: 好 2, 较好 5, 一般 11, 差 3), the spread the published local
   systems (常德, 盐城 "6+X", 淮安, 苏州) report, where 好 and 差 are the exceptions. Caps
   (badges) then lower the grade to at most the configured grade: any 第四种形态 case; a
   反弹 rate above `rebound_rate_above` (default 75%) with at least
   `rebound_findings_at_least` (default 3) rebound findings (any single 反弹 capped 21 of 21
   units of a demo round, a badge that tells nothing: the demo's rebound rates have median
   44% over units inspected before and 90th percentile 86%, so 75% marks a unit where three
   quarters of what was found had been rectified before and came back); an overdue rate above
   the threshold; 样本不足 removes the grade. Ranking within the peer group orders by grade
   first, then by score, so a capped unit never ranks above an uncapped better grade.
7. Provisional grades. A unit inspected in a round whose rectification period has not ended
   (xuncha.figures.periods.finished_rounds, the store's rule) is graded 暂评: its
   grade_label reads "较好（暂评）" and `provisional` is true, on the page, the command line
   and the briefing, since its figures still move with every measure completed.
8. A grade that moved two or more grades since the unit's previous inspection is explained
   by the indicators whose part of the score moved most (xuncha.figures.ecology_stability).

The 反弹 indicator is the rebound rate (反弹问题 ÷ 问题), not a 0/1 flag: a flag cannot say how
much of the unit's work comes back, and the rate is DOMAIN.md §5's own rebound figure, from
the same code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from xuncha.config_files import merge, read_toml, write_atomically
from xuncha.figures import disclosure, periods
from xuncha.figures.periods import PROVISIONAL, PeriodRule
from xuncha.figures.rates import rate_expr
from xuncha.figures.rectification import rectification
from xuncha.filters import Scope
from xuncha.store.reader import Reader

LABEL = "研判参考"
SMALL_SAMPLE = "样本不足"
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "ecology_default.toml"
CONFIG_FORMAT = 1

DIMENSIONS = ("P", "R", "D", "X", "S")
GRADES = ("好", "较好", "一般", "差")  # best first; the index is the grade's level
# A unit's grade against its previous inspection in scope (grade_movement).
TRENDS = ("好转", "持平", "下降", "无法比较", "无上一轮")
GRADE_KEYS = ("good", "fairly_good", "average")  # the thresholds of the first three
INDICATORS = (
    "finding_density",
    "share_l1_a",
    "focus_findings",
    "four_winds_findings",
    "personnel_findings",
    "completion_rate",
    "on_time_rate",
    "overdue_rate",
    "clue_density",
    "heavier_forms",
    "repeat_rate",
    "rebound_rate",
    "regulations_per_finding",
)
CAP_KEYS = ("fourth_form", "rebound", "overdue")
# The numeric settings of [caps]: the overdue line, and the rebound rate and count that
# together trigger the rebound cap (both must be reached).
CAP_LEVELS = ("overdue_rate_above", "rebound_rate_above", "rebound_findings_at_least")
# Which ids stand behind an indicator (ecology_evidence.sql), for the explanation.
ID_KINDS = {"finding": "问题", "measure": "措施", "clue": "线索", "inspection": "巡察"}
CLUE_EVIDENCE = disclosure.CLUE_INDICATORS  # whose figures are disclosure-controlled
# The clue figure (xuncha.figures.disclosure) each clue indicator's evidence counts.
CLUE_FIGURES = {
    "clue_density": "clues",
    "heavier_forms": "heavier_form_clues",
    "fourth_form": "fourth_form_clues",
}

METHOD = (
    "政治生态研判参考：各指标与同类单位比较。"
    "问题数少于样本线的单位为“样本不足”，不评等次、不排名，也不作为比较的基准。"
    "每个指标按百分位计分（0–100）：本单位在同类组可评价单位中的位次百分位（并列取中间位次，"
    "全部相同为 50 分），再向本单位在本轮全部可评价单位中的位次百分位收缩——同类组有 n 个可比单位时，"
    "同类组占 n ÷ (n + k)（k 见配置，默认 4：2 个单位的同类组占三分之一，12 个占四分之三），"
    "以免两三个单位的同类组中非 0 即 100。50 分表示与居中的单位持平。"
    "无法观察的指标（如尚无已完成措施时的按期完成率、此前未被巡察过的单位的重复率、没有成效记录时的建章立制）不参与计算；"
    "维度得分为其可用指标的平均分，总分为各可用维度得分按权重的加权平均（缺少的维度不计，权重按其余维度重新归一）。"
    "每个指标的贡献 = 其权重份额 ×（指标得分 − 50），总分 = 50 + 各指标贡献之和。"
    "等次按等次线评定（默认：好 ≥ 62，较好 ≥ 52，一般 ≥ 40，其余为差），"
    "再按封顶规则降至最高允许等次：有第四种形态案件；反弹率超过封顶线（默认 75%）且反弹问题不少于"
    "规定个数（默认 3 个）；逾期率超过封顶线（默认 20%）。"
    "整改期尚未结束的轮次，等次标注“暂评”。"
    "与上一次被巡察相比等次变化两个及以上的，解释中写明变化最大的指标。"
    "仅供研判参考，不代替组织判断。"
)


class EcologyConfigError(ValueError):
    """A configuration that cannot be used; the message is fit to show a user (Chinese)."""


# -- configuration ---------------------------------------------------------------------


@dataclass(frozen=True)
class DimensionSpec:
    key: str
    label: str
    help: str


@dataclass(frozen=True)
class IndicatorSpec:
    key: str
    dimension: str
    direction: str  # "+" higher is better, "-" lower is better
    label: str
    help: str
    enabled: bool = True

    @property
    def direction_label(self) -> str:
        return "正向" if self.direction == "+" else "逆向"


@dataclass(frozen=True)
class EcologyConfig:
    """Weights, grade thresholds, caps, the minimum sample and the indicator definitions.

    Build with `load` (a TOML file over the defaults) or `from_dict`; both validate. The
    digest covers the values that change a score (not labels or help text), so two scores
    with the same digest were computed the same way.
    """

    weights: Mapping[str, float]
    grades: Mapping[str, float]
    caps: Mapping[str, Any]
    min_findings: int
    dimensions: Mapping[str, DimensionSpec]
    indicators: Mapping[str, IndicatorSpec]
    source: str = field(default="默认配置", compare=False)
    # k of the shrinkage toward the population: a peer group of n units weighs n / (n + k).
    shrinkage_k: float = 4.0

    # -- building -----------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> EcologyConfig:
        """The default configuration, or a TOML file read over it (keys it omits keep their
        default values)."""
        defaults = read_toml(DEFAULT_CONFIG, "配置文件", EcologyConfigError)
        if path is None:
            return cls.from_dict(defaults, source="默认配置")
        given = read_toml(Path(path), "配置文件", EcologyConfigError)
        return cls.from_dict(merge(defaults, given), source=str(path))

    @classmethod
    def from_toml(cls, text: str, source: str = "编辑的配置") -> EcologyConfig:
        """A configuration from TOML text (an edited or uploaded file), read over the
        defaults like `load`; validated before anything is saved."""
        try:
            given = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise EcologyConfigError(f"配置不是有效的 TOML（{exc}）") from None
        return cls.from_dict(
            merge(read_toml(DEFAULT_CONFIG, "配置文件", EcologyConfigError), given), source=source
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "默认配置") -> EcologyConfig:
        return _validate(data, source)

    def with_values(self, **changes: Any) -> EcologyConfig:
        """A validated copy with some values changed, e.g. weights={"R": 40, ...}; mappings
        given are merged over the current ones (for the administrator's page)."""
        data = self.to_dict()
        merged = merge(data, {k: _plain(v) for k, v in changes.items()})
        return _validate(merged, self.source)

    # -- reading ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": CONFIG_FORMAT,
            "weights": {d: float(self.weights[d]) for d in DIMENSIONS},
            "grades": {k: float(self.grades[k]) for k in GRADE_KEYS},
            "caps": {
                "fourth_form": self.caps["fourth_form"],
                "rebound": self.caps["rebound"],
                "overdue": self.caps["overdue"],
                "overdue_rate_above": float(self.caps["overdue_rate_above"]),
                "rebound_rate_above": float(self.caps["rebound_rate_above"]),
                "rebound_findings_at_least": int(self.caps["rebound_findings_at_least"]),
            },
            "sample": {"min_findings": int(self.min_findings)},
            "normalisation": {"shrinkage_k": float(self.shrinkage_k)},
            "dimensions": {
                d: {"label": s.label, "help": s.help} for d, s in self.dimensions.items()
            },
            "indicators": {
                k: {
                    "dimension": s.dimension,
                    "direction": s.direction,
                    "label": s.label,
                    "help": s.help,
                    "enabled": s.enabled,
                }
                for k, s in self.indicators.items()
            },
        }

    def scoring_values(self) -> dict[str, Any]:
        """The values that change a score: what the digest covers and every score records."""
        full = self.to_dict()
        return {
            "weights": full["weights"],
            "grades": full["grades"],
            "caps": full["caps"],
            "min_findings": full["sample"]["min_findings"],
            "shrinkage_k": full["normalisation"]["shrinkage_k"],
            "indicators": {
                k: {"dimension": s.dimension, "direction": s.direction, "enabled": s.enabled}
                for k, s in self.indicators.items()
            },
        }

    def digest(self) -> str:
        """SHA-256 (hex) of the scoring values in canonical JSON."""
        text = json.dumps(
            self.scoring_values(), sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def __hash__(self) -> int:  # for caches keyed on the configuration (dict fields)
        return hash(self.digest())

    def grade_for(self, score: float | None) -> str | None:
        if score is None:
            return None
        for grade, key in zip(GRADES, GRADE_KEYS, strict=False):
            if score >= self.grades[key]:
                return grade
        return GRADES[-1]

    def to_toml(self) -> str:
        """The configuration as a TOML file (comments in Chinese), readable by `load`."""
        d = self.to_dict()
        lines = [
            "# 政治生态研判参考：指标、权重、等次线与封顶规则",
            "# 方向：+ 为正向指标（越高越好），- 为逆向指标（越低越好）。",
            "",
            f"format = {CONFIG_FORMAT}",
            "",
            "[weights]",
            "# 各维度权重：非负，不能全为 0；某单位缺少某维度时，按其余维度的权重重新归一。",
            *(f"{k} = {_toml_value(v)}" for k, v in d["weights"].items()),
            "",
            "[grades]",
            "# 等次线：得分 ≥ good 为“好”，≥ fairly_good 为“较好”，≥ average 为“一般”，其余为“差”。",
            *(f"{k} = {_toml_value(v)}" for k, v in d["grades"].items()),
            "",
            "[caps]",
            "# 封顶规则：触发时等次最高为所列等次（以徽标标出）。反弹封顶须反弹率超过 rebound_rate_above（%）",
            "# 且反弹问题不少于 rebound_findings_at_least 个；逾期封顶为逾期率超过 overdue_rate_above（%）。",
            *(f"{k} = {_toml_value(v)}" for k, v in d["caps"].items()),
            "",
            "[sample]",
            "# 问题数少于此值的单位标注“样本不足”：不评等次，不参与排名，也不作为同类组比较的基准。",
            f"min_findings = {_toml_value(d['sample']['min_findings'])}",
            "",
            "[normalisation]",
            "# 各指标按同类组内的百分位计分，并向本轮全部单位中的百分位收缩：同类组有 n 个可评价单位时，",
            "# 同类组占 n ÷ (n + shrinkage_k)。shrinkage_k 越大，小同类组越多参照全部单位；0 为只看同类组。",
            f"shrinkage_k = {_toml_value(d['normalisation']['shrinkage_k'])}",
        ]
        for key, spec in d["dimensions"].items():
            lines += ["", f"[dimensions.{key}]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in spec.items()]
        for key, spec in d["indicators"].items():
            lines += ["", f"[indicators.{key}]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in spec.items()]
        return "\n".join(lines) + "\n"


STORE_CONFIG = Path("config") / "ecology.toml"


def store_config_path(store_root: str | os.PathLike[str]) -> Path:
    """Where an administrator's configuration for a store is kept (beside the versions, so
    editing it never copies the data)."""
    return Path(store_root) / STORE_CONFIG


def config_for_store(store_root: str | os.PathLike[str]) -> EcologyConfig:
    """The store's configuration when an administrator saved one, else the defaults."""
    path = store_config_path(store_root)
    if path.is_file():
        return EcologyConfig.load(path)
    return EcologyConfig.load(None)


def save_config(config: EcologyConfig, path: str | os.PathLike[str]) -> Path:
    """Write the configuration to `path` atomically: a temporary file in the same folder,
    flushed to disk, then renamed over the target (a reader sees the old or the new file,
    never half of one)."""
    target = Path(path)
    if not target.parent.is_dir():
        raise EcologyConfigError(f"目录不存在：{target.parent}")
    text = config.to_toml()
    _validate(tomllib.loads(text), str(target))  # never write what cannot be read back
    write_atomically(target, text)
    return target


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, IndicatorSpec | DimensionSpec):
        return {k: v for k, v in value.__dict__.items() if k != "key"}
    return value


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    # A JSON string is a TOML basic string, except that TOML also wants DEL escaped.
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise EcologyConfigError(f"{where} 须为数字，现为 {value!r}")
    if math.isinf(value):
        raise EcologyConfigError(f"{where} 须为有限的数字，现为 {value!r}")
    return float(value)


def _table(data: Mapping[str, Any], key: str, known: tuple[str, ...], what: str) -> dict[str, Any]:
    table = data.get(key, {})
    if not isinstance(table, Mapping):
        raise EcologyConfigError(f"配置项 [{key}] 须为一节（表），现为 {table!r}")
    unknown = [k for k in table if k not in known]
    if unknown:
        raise EcologyConfigError(
            f"[{key}] 中有未知的{what}：{'、'.join(unknown)}（可用：{'、'.join(known)}）"
        )
    missing = [k for k in known if k not in table]
    if missing:
        raise EcologyConfigError(f"[{key}] 缺少{what}：{'、'.join(missing)}")
    return dict(table)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise EcologyConfigError(f"{where} 须为非空文字，现为 {value!r}")
    return value.strip()


def _validate(data: Mapping[str, Any], source: str) -> EcologyConfig:
    top = (
        "format",
        "weights",
        "grades",
        "caps",
        "sample",
        "normalisation",
        "dimensions",
        "indicators",
    )
    unknown = [k for k in data if k not in top]
    if unknown:
        raise EcologyConfigError(
            f"配置中有未知的项：{'、'.join(unknown)}（可用：{'、'.join(top)}）"
        )
    if data.get("format", CONFIG_FORMAT) != CONFIG_FORMAT:
        raise EcologyConfigError(
            f"配置格式版本 {data.get('format')!r} 不受支持（应为 {CONFIG_FORMAT}）"
        )

    raw_weights = _table(data, "weights", DIMENSIONS, "维度")
    weights = {d: _number(raw_weights[d], f"维度 {d} 的权重") for d in DIMENSIONS}
    negative = [d for d, w in weights.items() if w < 0]
    if negative:
        raise EcologyConfigError(f"权重不能为负数：{'、'.join(negative)}")
    if not any(w > 0 for w in weights.values()):
        raise EcologyConfigError("权重不能全为 0")

    raw_grades = _table(data, "grades", GRADE_KEYS, "等次线")
    grades = {k: _number(raw_grades[k], f"等次线 {k}") for k in GRADE_KEYS}
    if not 100 >= grades["good"] > grades["fairly_good"] > grades["average"] >= 0:
        raise EcologyConfigError(
            "等次线须满足 100 ≥ 好（good）> 较好（fairly_good）> 一般（average）≥ 0，"
            f"现为 {grades['good']:g}、{grades['fairly_good']:g}、{grades['average']:g}"
        )

    raw_caps = _table(data, "caps", (*CAP_KEYS, *CAP_LEVELS), "封顶规则")
    caps: dict[str, Any] = {}
    for key in CAP_KEYS:
        if raw_caps[key] not in GRADES:
            raise EcologyConfigError(
                f"封顶规则 {key} 须为等次之一（{'、'.join(GRADES)}），现为 {raw_caps[key]!r}"
            )
        caps[key] = raw_caps[key]
    for key, what in (
        ("overdue_rate_above", "逾期率封顶线"),
        ("rebound_rate_above", "反弹率封顶线"),
    ):
        caps[key] = _number(raw_caps[key], what)
        if not 0 <= caps[key] <= 100:
            raise EcologyConfigError(f"{what}须在 0–100 之间，现为 {caps[key]:g}")
    at_least = raw_caps["rebound_findings_at_least"]
    if isinstance(at_least, bool) or not isinstance(at_least, int) or at_least < 1:
        raise EcologyConfigError(
            f"反弹封顶的反弹问题数 rebound_findings_at_least 须为正整数，现为 {at_least!r}"
        )
    caps["rebound_findings_at_least"] = int(at_least)

    sample = _table(data, "sample", ("min_findings",), "样本设置")
    min_findings = sample["min_findings"]
    if isinstance(min_findings, bool) or not isinstance(min_findings, int) or min_findings < 1:
        raise EcologyConfigError(f"样本线 min_findings 须为正整数，现为 {min_findings!r}")

    normalisation = _table(data, "normalisation", ("shrinkage_k",), "计分设置")
    shrinkage_k = _number(normalisation["shrinkage_k"], "收缩参数 shrinkage_k")
    if not 0 <= shrinkage_k <= 100:
        raise EcologyConfigError(f"收缩参数 shrinkage_k 须在 0–100 之间，现为 {shrinkage_k:g}")

    raw_dims = _table(data, "dimensions", DIMENSIONS, "维度")
    dimensions: dict[str, DimensionSpec] = {}
    for d in DIMENSIONS:
        spec = raw_dims[d]
        if not isinstance(spec, Mapping):
            raise EcologyConfigError(f"[dimensions.{d}] 须为一节（表）")
        extra = [k for k in spec if k not in ("label", "help")]
        if extra:
            raise EcologyConfigError(f"[dimensions.{d}] 中有未知的项：{'、'.join(extra)}")
        dimensions[d] = DimensionSpec(
            d, _text(spec.get("label"), f"维度 {d} 的名称"), str(spec.get("help", "")).strip()
        )

    raw_indicators = _table(data, "indicators", INDICATORS, "指标")
    indicators: dict[str, IndicatorSpec] = {}
    for key in INDICATORS:
        spec = raw_indicators[key]
        if not isinstance(spec, Mapping):
            raise EcologyConfigError(f"[indicators.{key}] 须为一节（表）")
        extra = [k for k in spec if k not in ("dimension", "direction", "label", "help", "enabled")]
        if extra:
            raise EcologyConfigError(f"[indicators.{key}] 中有未知的项：{'、'.join(extra)}")
        dimension = spec.get("dimension")
        if dimension not in DIMENSIONS:
            raise EcologyConfigError(
                f"指标 {key} 的维度须为 {'、'.join(DIMENSIONS)} 之一，现为 {dimension!r}"
            )
        direction = {"+": "+", "-": "-", "−": "-"}.get(str(spec.get("direction")))
        if direction is None:
            raise EcologyConfigError(
                f"指标 {key} 的方向须为 + 或 -，现为 {spec.get('direction')!r}"
            )
        enabled = spec.get("enabled", True)
        if not isinstance(enabled, bool):
            raise EcologyConfigError(f"指标 {key} 的 enabled 须为 true 或 false，现为 {enabled!r}")
        indicators[key] = IndicatorSpec(
            key,
            dimension,
            direction,
            _text(spec.get("label"), f"指标 {key} 的名称"),
            str(spec.get("help", "")).strip(),
            enabled,
        )
    empty = [
        d
        for d in DIMENSIONS
        if weights[d] > 0 and not any(s.enabled and s.dimension == d for s in indicators.values())
    ]
    if empty:
        raise EcologyConfigError(f"维度 {'、'.join(empty)} 的权重大于 0，但没有启用的指标")
    return EcologyConfig(
        weights, grades, caps, int(min_findings), dimensions, indicators, source, shrinkage_k
    )


# -- scorecards ------------------------------------------------------------------------


@dataclass(frozen=True)
class Scorecards:
    """The scorecards of one scope.

    units: one row per unit (score, grade, caps, dimension scores, peer rank, label).
    dimensions: one row per unit and dimension. indicators: one row per unit and indicator
    (raw value, numerator, n, peer reference, best and worst, normalised 0–100, direction,
    weight share and contribution).
    """

    units: pl.DataFrame
    dimensions: pl.DataFrame
    indicators: pl.DataFrame
    config: EcologyConfig
    as_of: dt.date
    label: str = LABEL

    @property
    def config_digest(self) -> str:
        return self.config.digest()

    def ranking(self) -> pl.DataFrame:
        return peer_ranking(self)

    def only(self, unit_ids: frozenset[int]) -> Scorecards:
        """The same scorecards shown for some units only (scores and ranks unchanged)."""
        keep = pl.col("unit_id").is_in(list(unit_ids))
        return replace(
            self,
            units=self.units.filter(keep),
            dimensions=self.dimensions.filter(keep),
            indicators=self.indicators.filter(keep),
        )

    def records(self) -> list[dict[str, Any]]:
        return scorecard_records(self)


_UNIT_COLUMNS = {
    "unit_id": pl.Int64,
    "unit_name": pl.String,
    "peer_group": pl.String,
    "sector": pl.String,
}


def scorecards(
    reader: Reader,
    scope: Scope,
    config: EcologyConfig | None = None,
    *,
    inputs: tuple[pl.DataFrame, pl.DataFrame] | None = None,
    rule: PeriodRule | None = None,
) -> Scorecards:
    """The political-ecology scorecard of every unit inspected in scope (fed back by the
    scope's as-of date), each within its peer group. `inputs`: this scope's rows of
    ecology_unit_counts and of rectification by unit, already fetched (score_trend fetches
    every round's at once); None: queried here. `rule`: the rectification period rule
    (None: the store's, periods.rule_for_store); a unit inspected in a round whose period
    has not ended is graded 暂评 (`provisional`)."""
    config = config or EcologyConfig.load(None)
    rule = rule or periods.rule_for_store(reader.store.root)
    if scope.population_ids is not None and scope.unit_filter is not None:
        # A scoped reader: score the whole peer population of the rounds they may see, then
        # show their units only, so their scores and ranks are everyone's.
        seen = reader.query(
            "ecology_rounds", {"inspection_ids": list(scope.inspection_ids), "as_of": scope.as_of}
        )
        every = reader.query(
            "ecology_rounds", {"inspection_ids": list(scope.population_ids), "as_of": scope.as_of}
        )
        rounds = set(seen["round_id"].to_list())
        population = tuple(
            int(i)
            for rid, ids in every.select("round_id", "inspection_ids").rows()
            if rid in rounds
            for i in ids
        )
        whole = replace(scope, inspection_ids=population, population_ids=None, unit_filter=None)
        return scorecards(reader, whole, config, rule=rule).only(scope.unit_filter)
    if inputs is None:
        counts = reader.query("ecology_unit_counts", scope.params(by_round=False))
        rect = rectification(reader, scope, by="unit", cycle_median=False)
    else:
        counts, rect = inputs
    open_units = provisional_units(reader, scope.ids_param(), scope.as_of, rule)
    counts = counts.drop("round_id").with_columns(
        pl.col("unit_id").cast(pl.Int64).is_in(list(open_units)).alias("provisional")
    )
    return _score(counts, rect, config, scope.as_of)


def provisional_units(
    reader: Reader, inspection_ids: list[int] | None, as_of: dt.date, rule: PeriodRule
) -> frozenset[int]:
    """The units inspected (among `inspection_ids`) in a round whose rectification period
    had not ended by `as_of` (periods.finished_rounds): their grades are 暂评."""
    per = periods.inspection_periods(reader, inspection_ids, as_of, rule)
    rounds = periods.rounds_of(per)
    open_rounds = rounds.filter(~pl.col("finished"))["round_id"].to_list()
    still = per.filter(pl.col("in_scope") & pl.col("round_id").is_in(open_rounds))
    return frozenset(int(u) for u in still["unit_id"].to_list())


def _score(
    counts: pl.DataFrame,
    rect: pl.DataFrame,
    config: EcologyConfig,
    as_of: dt.date,
    *,
    units_only: bool = False,
) -> Scorecards:
    """Scorecards from one scope's ecology counts and rectification by unit. Units are keyed
    by unit_id and compared within peer_group only, which score_trend uses to score every
    round in one pass (each round's units and peer groups given keys of their own).
    units_only: only `units` is meant to be read (the trend); the indicators' contributions
    and their final table are not built (`indicators` is left empty)."""
    counts = counts.with_columns(pl.col("unit_id").cast(pl.Int64))
    for column, default in (("population", pl.lit(0, pl.Int64)), ("provisional", pl.lit(False))):
        if column not in counts.columns:
            counts = counts.with_columns(default.alias(column))
    rect = rect.with_columns(pl.col("group_id").cast(pl.Int64).alias("unit_id"))
    base = counts.join(
        rect.select(
            "unit_id",
            pl.col("findings").alias("rect_findings"),
            "findings_done",
            "measures",
            "overdue_measures",
            "completed_with_deadline",
            "on_time_original",
            "repeat_findings",
            "rebound_findings",
            "completion_rate",
            "on_time_rate",
            "overdue_rate",
            "repeat_rate",
            "rebound_rate",
        ),
        on="unit_id",
        how="left",
    ).with_columns((pl.col("findings") >= config.min_findings).alias("reference"))
    mismatch = base.filter(
        pl.col("rect_findings").is_not_null() & (pl.col("rect_findings") != pl.col("findings"))
    )
    if mismatch.height:  # the two queries must see the same findings
        raise RuntimeError(f"ecology counts disagree with rectification: {mismatch.to_dicts()}")
    raw = _raw_indicators(base)
    indicators = _normalise(raw, config)
    indicators, dimensions = _weigh(indicators, config, contributions=not units_only)
    units = _grade(base, dimensions, config, as_of)
    if units_only:
        return Scorecards(units, dimensions, pl.DataFrame(), config, as_of)
    digest = config.digest()
    indicators = (
        indicators.join(units.select("unit_id", "small_sample"), on="unit_id", how="left")
        .with_columns(pl.lit(LABEL).alias("label"), pl.lit(digest).alias("config_digest"))
        .sort("peer_group", "unit_id", "order")
        .drop("order")
    )
    return Scorecards(units, dimensions, indicators, config, as_of)


def _raw_indicators(base: pl.DataFrame) -> pl.DataFrame:
    """One row per unit and indicator: numerator, n (the denominator), peer reference, raw
    value and a note when the value is unavailable or needs a word."""
    per_insp = base.with_columns(
        (pl.col("findings") / pl.col("inspections")).alias("finding_pi"),
        (pl.col("clues") / pl.col("inspections")).alias("clue_pi"),
    )
    peer = (
        per_insp.filter(pl.col("reference"))
        .group_by("peer_group")
        .agg(
            pl.col("finding_pi").median().alias("finding_median"),
            pl.col("finding_pi").mean().alias("finding_mean"),
            pl.col("clue_pi").median().alias("clue_median"),
            pl.col("clue_pi").mean().alias("clue_mean"),
        )
    )
    b = per_insp.join(peer, on="peer_group", how="left")

    def vs_median(
        value: str, median: str, mean: str, what: str, unit: str
    ) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
        reference = (
            pl.when(pl.col(median) > 0)
            .then(pl.col(median))
            .when(pl.col(mean) > 0)
            .then(pl.col(mean))
            .otherwise(None)
        )
        note = (
            pl.when(pl.col(median).is_null())
            .then(pl.lit("同类组没有可评价单位，无中位数参照"))
            .when(pl.col(median) > 0)
            .then(
                pl.format(
                    f"每次巡察 {{}} {unit}，同类组中位数 {{}}",
                    _half_up(value, 2),
                    _half_up(median, 2),
                )
            )
            .when(pl.col(mean) > 0)
            .then(
                pl.format(
                    f"每次巡察 {{}} {unit}，同类组中位数为 0，以均值 {{}} 为参照",
                    _half_up(value, 2),
                    _half_up(mean, 2),
                )
            )
            .otherwise(pl.lit(f"同类组均无{what}，显示每次巡察的{what}数"))
        )
        ratio = (
            pl.when(reference.is_not_null())
            .then(pl.col(value) / reference)
            .when(pl.col(median).is_not_null())
            .then(pl.col(value))
            .otherwise(None)
        )
        return ratio, note, reference

    f_value, f_note, f_ref = vs_median("finding_pi", "finding_median", "finding_mean", "问题", "个")
    c_value, c_note, c_ref = vs_median("clue_pi", "clue_median", "clue_mean", "线索", "条")

    def per_inspection(column: str) -> pl.Expr:
        return pl.col(column) / pl.col("inspections")

    no_earlier = pl.col("earlier_inspections") == 0
    earlier_note = pl.when(no_earlier).then(pl.lit("此前轮次未被巡察，无法观察重复和反弹"))
    specs: list[tuple[str, str, str, pl.Expr, pl.Expr | None, pl.Expr]] = [
        # key, numerator column, n column, raw value, peer reference, note
        ("finding_density", "findings", "inspections", f_value, f_ref, f_note),
        (
            "share_l1_a",
            "findings_l1_a",
            "findings",
            rate_expr(("findings_l1_a",), "findings"),
            None,
            pl.lit(None, pl.String),
        ),
        *(
            (key, key, "inspections", per_inspection(key), None, pl.lit(None, pl.String))
            for key in ("focus_findings", "four_winds_findings", "personnel_findings")
        ),
        (
            "completion_rate",
            "findings_done",
            "findings",
            pl.col("completion_rate"),
            None,
            pl.lit(None, pl.String),
        ),
        (
            "on_time_rate",
            "on_time_original",
            "completed_with_deadline",
            pl.col("on_time_rate"),
            None,
            pl.when(pl.col("on_time_rate").is_null()).then(pl.lit("尚无有时限的已完成措施")),
        ),
        (
            "overdue_rate",
            "overdue_measures",
            "measures",
            pl.col("overdue_rate"),
            None,
            pl.when(pl.col("overdue_rate").is_null()).then(pl.lit("没有整改措施")),
        ),
        ("clue_density", "clues", "inspections", c_value, c_ref, c_note),
        (
            "heavier_forms",
            "heavier_form_persons",
            "inspections",
            per_inspection("heavier_form_persons"),
            None,
            pl.lit(None, pl.String),
        ),
        (
            "repeat_rate",
            "repeat_findings",
            "findings",
            pl.when(~no_earlier).then(pl.col("repeat_rate")),
            None,
            earlier_note,
        ),
        (
            "rebound_rate",
            "rebound_findings",
            "findings",
            pl.when(~no_earlier).then(pl.col("rebound_rate")),
            None,
            earlier_note,
        ),
        (
            "regulations_per_finding",
            "regulations",
            "findings",
            pl.when((pl.col("outcome_inspections") > 0) & (pl.col("findings") > 0)).then(
                pl.col("regulations") / pl.col("findings")
            ),
            None,
            pl.when(pl.col("outcome_inspections") == 0).then(pl.lit("没有巡察成效记录")),
        ),
    ]
    frames = []
    for order, (key, numerator, n, value, reference, note) in enumerate(specs):
        frames.append(
            b.select(
                *_UNIT_COLUMNS,
                "reference",
                "population",
                pl.lit(order).alias("order"),
                pl.lit(key).alias("indicator"),
                pl.col(numerator).cast(pl.Int64).alias("numerator"),
                pl.col(n).cast(pl.Int64).alias("n"),
                (reference if reference is not None else pl.lit(None))
                .cast(pl.Float64)
                .alias("peer_reference"),
                value.cast(pl.Float64).alias("raw_value"),
                note.cast(pl.String).alias("note"),
            )
        )
    raw = pl.concat(frames)
    # A NaN would poison the peers' best and worst; it means "not observed".
    return raw.with_columns(
        pl.when(pl.col("raw_value").is_nan())
        .then(None)
        .otherwise(pl.col("raw_value"))
        .alias("raw_value")
    )


_EPS = 1e-9


def _normalise(raw: pl.DataFrame, config: EcologyConfig) -> pl.DataFrame:
    """Mid-rank percentiles, direction applied, within the peer group and within the round's
    population (both over their reference units), blended n / (n + k) toward the peer group.

    A unit's percentile among m reference values (itself among them when it is one) is
    (worse + ½ × equal + ½) ÷ (others + 1) × 100, counting the others only: ties share the
    mid-rank, the mean over a group is 50, nobody scores 0 or 100 and all equal gives 50
    (neutral, no contribution). A 样本不足 unit is placed as if added to the group."""
    specs = pl.DataFrame(
        {
            "indicator": list(config.indicators),
            "indicator_name": [s.label for s in config.indicators.values()],
            "dimension": [s.dimension for s in config.indicators.values()],
            "direction": [s.direction for s in config.indicators.values()],
            "enabled": [s.enabled for s in config.indicators.values()],
        }
    )
    frame = raw.join(specs, on="indicator", how="left").with_columns(
        pl.when(pl.col("direction") == "+")
        .then(pl.col("raw_value"))
        .otherwise(-pl.col("raw_value"))
        .alias("_good")
    )
    refs = frame.filter(pl.col("reference") & pl.col("raw_value").is_not_null())
    scale = refs.group_by("peer_group", "indicator").agg(
        pl.col("raw_value").min().alias("lo"),
        pl.col("raw_value").max().alias("hi"),
        pl.col("raw_value").median().alias("peer_median"),
        pl.len().alias("peers_compared"),
    )
    population = refs.group_by("population", "indicator").agg(
        pl.col("raw_value").median().alias("population_median"),
        pl.len().alias("population_compared"),
    )
    frame = (
        frame.join(scale, on=["peer_group", "indicator"], how="left")
        .join(population, on=["population", "indicator"], how="left")
        .join(_percentile(frame, refs, "peer_group"), on=["unit_id", "indicator"], how="left")
        .join(_percentile(frame, refs, "population"), on=["unit_id", "indicator"], how="left")
    )
    n = pl.col("peers_compared").fill_null(0).cast(pl.Float64)
    weight = pl.when(n + config.shrinkage_k > 0).then(n / (n + config.shrinkage_k)).otherwise(1.0)
    scored = pl.col("raw_value").is_not_null() & pl.col("peers_compared").is_not_null()
    plus = pl.col("direction") == "+"
    return frame.with_columns(
        pl.when(scored).then(pl.col("pct_peer_group")).alias("peer_percentile"),
        pl.when(scored).then(pl.col("pct_population")).alias("population_percentile"),
        pl.when(scored).then(weight).alias("peer_weight"),
        pl.when(scored)
        .then(weight * pl.col("pct_peer_group") + (1 - weight) * pl.col("pct_population"))
        .cast(pl.Float64)
        .alias("normalised"),
        pl.when(plus).then(pl.col("hi")).otherwise(pl.col("lo")).alias("peer_best"),
        pl.when(plus).then(pl.col("lo")).otherwise(pl.col("hi")).alias("peer_worst"),
        pl.col("peers_compared").fill_null(0).cast(pl.Int64),
        pl.col("population_compared").fill_null(0).cast(pl.Int64),
    ).drop("lo", "hi", "reference", "_good", "pct_peer_group", "pct_population")


def _percentile(frame: pl.DataFrame, refs: pl.DataFrame, within: str) -> pl.DataFrame:
    """Each unit's mid-rank percentile (pct_<within>) among the other reference units of its
    `within` group that have the indicator; 50 when it has no other.

    Counted by binary search in each group's sorted reference values, not by pairing every
    unit with every other: a round's population of 5,000 units pairs into hundreds of
    millions of rows per call (gigabytes at provincial scale, each concurrent session its
    own). The unit itself, when it is a reference unit, is taken out of its equal count."""
    mine = frame.filter(pl.col("raw_value").is_not_null()).select(
        "unit_id", within, "indicator", "_good"
    )
    keys = [within, "indicator"]
    sorted_refs = {
        key: (np.sort(part["_good"].to_numpy()), set(part["unit_id"].to_list()))
        for key, part in refs.select(*keys, "unit_id", "_good")
        .partition_by(keys, as_dict=True)
        .items()
        if None not in key  # a null group key pairs with nobody (as a join on it)
    }
    ids: list[np.ndarray] = []
    indicators: list[str] = []
    sizes: list[int] = []
    pcts: list[np.ndarray] = []
    for key, part in mine.partition_by(keys, as_dict=True).items():
        good = part["_good"].to_numpy().astype(np.float64)
        values, members = sorted_refs.get(key, (np.empty(0), set()))
        low = np.searchsorted(values, good - _EPS, side="left")
        high = np.searchsorted(values, good + _EPS, side="right")
        self_in = np.fromiter(
            (u in members for u in part["unit_id"].to_list()), dtype=bool, count=part.height
        ).astype(np.float64)
        below = low.astype(np.float64)
        equal = (high - low) - self_in
        others = len(values) - self_in
        pcts.append((below + 0.5 * equal + 0.5) / (others + 1) * 100)
        ids.append(part["unit_id"].to_numpy())
        indicators.append(str(key[1]))
        sizes.append(part.height)
    if not pcts:
        return mine.select("unit_id", "indicator", pl.lit(None, pl.Float64).alias(f"pct_{within}"))
    return pl.DataFrame(
        {
            "unit_id": pl.Series(np.concatenate(ids)).cast(mine.schema["unit_id"]),
            "indicator": pl.Series(
                [name for name, n in zip(indicators, sizes, strict=True) for _ in range(n)],
                dtype=mine.schema["indicator"],
            ),
            f"pct_{within}": np.concatenate(pcts),
        }
    )


def _weigh(
    indicators: pl.DataFrame, config: EcologyConfig, *, contributions: bool = True
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Dimension means, renormalised weights, and each indicator's share and contribution
    (contributions=False: the indicators are returned as given, for the units' scores only)."""
    used = pl.col("enabled") & pl.col("normalised").is_not_null()
    frame = indicators.with_columns(used.alias("available"))
    units = frame.select(*_UNIT_COLUMNS).unique("unit_id")
    grid = units.join(
        pl.DataFrame(
            {
                "dimension": list(DIMENSIONS),
                "dimension_name": [config.dimensions[d].label for d in DIMENSIONS],
                "weight": [float(config.weights[d]) for d in DIMENSIONS],
                "dimension_order": list(range(len(DIMENSIONS))),
            }
        ),
        how="cross",
    )
    means = (
        frame.filter(pl.col("available"))
        .group_by("unit_id", "dimension")
        .agg(pl.col("normalised").mean().alias("score"), pl.len().alias("indicators_available"))
    )
    dims = grid.join(means, on=["unit_id", "dimension"], how="left").with_columns(
        pl.col("indicators_available").fill_null(0).cast(pl.Int64)
    )
    counted = pl.col("score").is_not_null() & (pl.col("weight") > 0)
    dims = dims.with_columns(
        pl.when(counted).then(pl.col("weight")).otherwise(0.0).sum().over("unit_id").alias("_w")
    ).with_columns(
        pl.when(counted & (pl.col("_w") > 0))
        .then(pl.col("weight") / pl.col("_w"))
        .otherwise(0.0)
        .alias("weight_share")
    )
    dims = (
        dims.drop("_w")
        .sort("peer_group", "unit_id", "dimension_order")
        .drop("dimension_order")
        .with_columns(pl.lit(LABEL).alias("label"), pl.lit(config.digest()).alias("config_digest"))
    )
    if not contributions:
        return indicators, dims
    shares = dims.select("unit_id", "dimension", pl.col("weight_share").alias("_dim_share"))
    frame = frame.join(shares, on=["unit_id", "dimension"], how="left").with_columns(
        pl.when(pl.col("available"))
        .then(
            pl.col("_dim_share")
            / pl.col("available").cast(pl.Int64).sum().over("unit_id", "dimension")
        )
        .otherwise(0.0)
        .alias("weight_share")
    )
    frame = frame.with_columns(
        pl.when(pl.col("available"))
        .then(pl.col("weight_share") * (pl.col("normalised") - 50.0))
        .otherwise(None)
        .alias("contribution")
    ).drop("_dim_share")
    return frame, dims


def _round2(value: float | None) -> float | None:
    if value is None or math.isnan(value):
        return None
    return float(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _grade(
    base: pl.DataFrame, dims: pl.DataFrame, config: EcologyConfig, as_of: dt.date
) -> pl.DataFrame:
    weighted = (
        dims.filter(pl.col("weight_share") > 0)
        .group_by("unit_id")
        .agg(
            (pl.col("weight_share") * pl.col("score")).sum().alias("_score"),
            pl.col("dimension").sort().alias("dimensions_used"),
        )
    )
    wide = dims.pivot(on="dimension", index="unit_id", values="score")
    wide = wide.with_columns(
        pl.lit(None, pl.Float64).alias(d) for d in DIMENSIONS if d not in wide.columns
    ).select(
        pl.col("unit_id").cast(pl.Int64),
        *(pl.col(d).cast(pl.Float64).alias(f"dimension_{d}") for d in DIMENSIONS),
    )
    frame = (
        base.join(weighted, on="unit_id", how="left")
        .join(wide, on="unit_id", how="left")
        .with_columns(
            (pl.col("findings") < config.min_findings).alias("small_sample"),
            pl.col("dimensions_used").fill_null([]),
        )
    )
    caps = config.caps
    level_of = {g: i for i, g in enumerate(GRADES)}
    # Two decimals, half up (scores are never negative), and graded on what is shown.
    frame = frame.with_columns(
        pl.col("_score").round(2, mode="half_away_from_zero").cast(pl.Float64).alias("score")
    )
    uncapped = pl.lit(GRADES[-1])
    for name, line in reversed(list(zip(GRADES, GRADE_KEYS, strict=False))):
        uncapped = (
            pl.when(pl.col("score") >= config.grades[line]).then(pl.lit(name)).otherwise(uncapped)
        )
    uncapped = pl.when(pl.col("score").is_null()).then(None).otherwise(uncapped)
    # (key, triggered, badge, the best grade allowed)
    rules = [
        (
            "fourth_form",
            pl.col("fourth_form_clues") > 0,
            f"第四种形态·最高{caps['fourth_form']}",
            caps["fourth_form"],
        ),
        (
            "rebound",
            (pl.col("rebound_findings").fill_null(0) >= caps["rebound_findings_at_least"])
            & (pl.col("rebound_rate").fill_null(0) > caps["rebound_rate_above"]),
            f"反弹率超过{caps['rebound_rate_above']:g}%·最高{caps['rebound']}",
            caps["rebound"],
        ),
        (
            "overdue",
            pl.col("overdue_rate").fill_null(0) > caps["overdue_rate_above"],
            f"逾期率超过{caps['overdue_rate_above']:g}%·最高{caps['overdue']}",
            caps["overdue"],
        ),
        ("small_sample", pl.col("small_sample"), SMALL_SAMPLE, None),
    ]
    frame = frame.with_columns(
        uncapped.alias("grade_uncapped"),
        pl.concat_list(pl.when(hit).then(pl.lit(key)) for key, hit, _, _ in rules)
        .list.drop_nulls()
        .alias("caps"),
        pl.concat_list(pl.when(hit).then(pl.lit(badge)) for _, hit, badge, _ in rules)
        .list.drop_nulls()
        .alias("badges"),
        pl.max_horizontal(
            pl.lit(0),
            *(
                pl.when(hit).then(pl.lit(level_of[best])).otherwise(0)
                for _, hit, _, best in rules
                if best is not None
            ),
        ).alias("_ceiling"),
    )
    capped_level = pl.max_horizontal(
        pl.col("grade_uncapped").replace_strict(level_of, default=None, return_dtype=pl.Int64),
        pl.col("_ceiling"),
    )
    grade = (
        pl.when(pl.col("small_sample") | pl.col("grade_uncapped").is_null())
        .then(None)
        .otherwise(capped_level.replace_strict(dict(enumerate(GRADES)), return_dtype=pl.String))
    )
    frame = frame.with_columns(grade.alias("grade")).with_columns(
        pl.when(pl.col("small_sample"))
        .then(pl.lit(SMALL_SAMPLE))
        .when(pl.col("grade").is_null())
        .then(pl.lit("无法评分"))
        .when(pl.col("provisional"))
        .then(pl.format("{}（{}）", pl.col("grade"), pl.lit(PROVISIONAL)))
        .otherwise(pl.col("grade"))
        .alias("grade_label"),
        (pl.col("grade").is_not_null() & (pl.col("grade") != pl.col("grade_uncapped"))).alias(
            "capped"
        ),
    )
    level = pl.col("grade").replace_strict(level_of, default=None, return_dtype=pl.Int64)
    rankable = pl.col("grade").is_not_null()
    key = pl.when(rankable).then(level * 1000 + (100 - pl.col("score")))
    frame = frame.with_columns(
        pl.len().over("peer_group").cast(pl.Int64).alias("peer_units"),
        pl.col("reference").sum().over("peer_group").cast(pl.Int64).alias("peer_rated"),
        key.rank("min").over("peer_group").cast(pl.Int64).alias("peer_rank"),
    )
    return frame.select(
        *_UNIT_COLUMNS,
        "inspections",
        "findings",
        "small_sample",
        "score",
        "grade",
        "grade_uncapped",
        "grade_label",
        "provisional",
        "capped",
        "caps",
        "badges",
        *(f"dimension_{d}" for d in DIMENSIONS),
        "dimensions_used",
        "peer_units",
        "peer_rated",
        "peer_rank",
        "fourth_form_clues",
        pl.col("rebound_findings").fill_null(0).cast(pl.Int64),
        "rebound_rate",
        "overdue_rate",
        pl.lit(LABEL).alias("label"),
        pl.lit(config.digest()).alias("config_digest"),
        pl.lit(as_of).alias("as_of"),
    ).sort("peer_group", pl.col("peer_rank"), "unit_id", nulls_last=True)


def peer_ranking(cards: Scorecards) -> pl.DataFrame:
    """The peer-group ranking: graded units by grade, then score; 样本不足 units listed
    last without a score or rank."""
    return cards.units.select(
        "peer_group",
        "peer_rank",
        "unit_id",
        "unit_name",
        "grade_label",
        pl.when(pl.col("small_sample")).then(None).otherwise(pl.col("score")).alias("score"),
        "badges",
        "findings",
        "peer_rated",
        "label",
        "config_digest",
    ).sort("peer_group", "peer_rank", "unit_id", nulls_last=True)


# -- trend -----------------------------------------------------------------------------


def score_trend(
    reader: Reader,
    scope: Scope,
    config: EcologyConfig | None = None,
    *,
    batched: bool = True,
    rule: PeriodRule | None = None,
) -> pl.DataFrame:
    """Scorecards round by round: each round of the scope scored on its own (its units within
    their peer groups), as of the scope's date. One row per unit and round.

    batched: the inputs of every round come from two queries counting each round apart
    (ecology_unit_counts by round, rectification by round and unit) instead of two per
    round, and every round is scored in one pass; a test checks both give the same trend.
    `provisional` marks the rounds whose rectification period had not ended (grade_label 暂评)."""
    config = config or EcologyConfig.load(None)
    rule = rule or periods.rule_for_store(reader.store.root)
    rounds = reader.query(
        "ecology_rounds", {"inspection_ids": scope.ids_param(), "as_of": scope.as_of}
    )
    per_round = _inputs_by_round(reader, scope) if batched else None
    if per_round is not None:
        finished = periods.finished_rounds(reader, scope.ids_param(), scope.as_of, rule)
        return _trend_in_one_pass(rounds, per_round, config, scope.as_of, finished)
    frames = []
    for row in rounds.iter_rows(named=True):
        cards = scorecards(
            reader,
            replace(scope, inspection_ids=tuple(row["inspection_ids"])),
            config,
            rule=rule,
        )
        frames.append(
            cards.units.select(
                pl.lit(row["round_id"], pl.Int64).alias("round_id"),
                pl.lit(row["round_name"]).alias("round_name"),
                pl.lit(row["seq"], pl.Int64).alias("seq"),
                *_UNIT_COLUMNS,
                *_TREND_COLUMNS,
            )
        )
    if not frames:
        return _empty_trend()
    return pl.concat(frames).sort("unit_id", "seq")


_TREND_COLUMNS = (
    "findings",
    "small_sample",
    "score",
    "grade",
    "grade_label",
    "provisional",
    "badges",
    "peer_rank",
    "label",
    "config_digest",
)
# Keys of one pass over every round: unit (round_id << 32) + unit_id, peer group
# "<round_id>\x00<peer group>", so no unit or group of one round meets another round's.
_ROUND_SHIFT = 32
_SEP = "\x00"


def _trend_in_one_pass(
    rounds: pl.DataFrame,
    per_round: Callable[[int], tuple[pl.DataFrame, pl.DataFrame] | None],
    config: EcologyConfig,
    as_of: dt.date,
    finished: frozenset[int],
) -> pl.DataFrame:
    """score_trend's rows from one scoring of every round together (each unit and peer group
    keyed apart per round): the same figures as scoring round by round, without its fixed
    cost per round (about 90 small Polars operations each)."""
    counts_parts, rect_parts = [], []
    for row in rounds.iter_rows(named=True):
        found = per_round(int(row["round_id"]))
        if found is None:
            continue
        counts, rect = found
        rid = int(row["round_id"])
        counts_parts.append(
            counts.drop("round_id").with_columns(
                (pl.lit(rid << _ROUND_SHIFT, pl.Int64) + pl.col("unit_id").cast(pl.Int64)).alias(
                    "unit_id"
                ),
                pl.concat_str(pl.lit(f"{rid}{_SEP}"), pl.col("peer_group")).alias("peer_group"),
                pl.lit(rid, pl.Int64).alias("population"),
                pl.lit(rid not in finished).alias("provisional"),
            )
        )
        rect_parts.append(
            rect.with_columns(
                (pl.lit(rid << _ROUND_SHIFT, pl.Int64) + pl.col("group_id").cast(pl.Int64))
                .cast(pl.String)
                .alias("group_id")
            )
        )
    if not counts_parts:
        return _empty_trend()
    cards = _score(pl.concat(counts_parts), pl.concat(rect_parts), config, as_of, units_only=True)
    info = rounds.select(
        pl.col("round_id").cast(pl.Int64), "round_name", pl.col("seq").cast(pl.Int64)
    )
    units = cards.units.with_columns(
        (pl.col("unit_id") // (1 << _ROUND_SHIFT)).alias("round_id"),
        (pl.col("unit_id") % (1 << _ROUND_SHIFT)).alias("unit_id"),
        pl.col("peer_group").str.split_exact(_SEP, 1).struct.field("field_1").alias("peer_group"),
    ).join(info, on="round_id", how="left")
    return units.select("round_id", "round_name", "seq", *_UNIT_COLUMNS, *_TREND_COLUMNS).sort(
        "unit_id", "seq"
    )


def _empty_trend() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "round_id": pl.Int64,
            "round_name": pl.String,
            "seq": pl.Int64,
            **_UNIT_COLUMNS,
            "findings": pl.Int64,
            "small_sample": pl.Boolean,
            "score": pl.Float64,
            "grade": pl.String,
            "grade_label": pl.String,
            "provisional": pl.Boolean,
            "badges": pl.List(pl.String),
            "peer_rank": pl.Int64,
            "label": pl.String,
            "config_digest": pl.String,
        }
    )


def _inputs_by_round(
    reader: Reader, scope: Scope
) -> Callable[[int], tuple[pl.DataFrame, pl.DataFrame] | None] | None:
    """Every round's scorecard inputs at once, as a function of the round (None when the
    scope is a scoped reader's: its scores are computed on the whole peer population, round
    by round, in scorecards)."""
    if scope.population_ids is not None or scope.unit_filter is not None:
        return None
    counts = reader.query("ecology_unit_counts", scope.params(by_round=True))
    rect = rectification(reader, scope, by="round_unit", cycle_median=False)
    parts = rect["group_id"].str.split_exact("/", 1)
    rect = rect.with_columns(
        parts.struct.field("field_0").cast(pl.Int64).alias("_round"),
        parts.struct.field("field_1").alias("group_id"),
    )
    counts_by = counts.partition_by("round_id", as_dict=True)
    rect_by = rect.partition_by("_round", as_dict=True)

    def of(round_id: int) -> tuple[pl.DataFrame, pl.DataFrame] | None:
        mine = counts_by.get((round_id,))
        if mine is None:
            return None  # no unit of the round in scope: let scorecards ask (and find none)
        theirs = rect_by.get((round_id,), rect.clear())
        return mine, theirs.drop("_round")

    return of


# -- the round scored by default --------------------------------------------------------


def default_ecology_round(rounds: pl.DataFrame, finished: frozenset[int]) -> int | None:
    """The round the scorecards show first among `rounds` (rows of queries/ecology_rounds.sql,
    in their order): the latest by `seq` of those `finished` (periods.finished_rounds: past
    their rectification period, so graded for good), else the last listed (the latest round
    in scope, graded 暂评); None when there is no round."""
    if rounds.is_empty():
        return None
    listed = rounds.select(pl.col("round_id").cast(pl.Int64), "seq").rows()
    done = [(seq, round_id) for round_id, seq in listed if round_id in finished]
    if not done:
        return int(listed[-1][0])
    return int(max(done, key=lambda pair: pair[0])[1])


# -- explanation -----------------------------------------------------------------------


def grade_movement(trend: pl.DataFrame, round_id: int) -> pl.DataFrame:
    """Each unit scored in `round_id` against its previous inspection in `trend` (the output of
    `score_trend`): columns of `trend` plus previous_round, previous_grade and trend, one of
    TRENDS — 好转 / 下降 when the grade moved up / down, 持平, 无法比较 when either round has
    no grade (样本不足 or not scored), 无上一轮 when the unit was not inspected before."""
    level = {g: i for i, g in enumerate(GRADES)}
    current = trend.filter(pl.col("round_id") == round_id)
    seq = current["seq"].max() if not current.is_empty() else None
    previous = (
        trend.filter(pl.col("seq") < (seq if seq is not None else -1))
        .sort("seq")
        .group_by("unit_id")
        .last()
        .select(
            "unit_id",
            pl.col("round_name").alias("previous_round"),
            pl.col("grade").alias("_prev_grade"),
            pl.col("grade_label").alias("previous_grade"),
            pl.col("score").alias("previous_score"),
        )
    )
    matrix = current.join(previous, on="unit_id", how="left").with_columns(
        pl.col("grade").replace_strict(level, default=None, return_dtype=pl.Int64).alias("_now"),
        pl.col("_prev_grade")
        .replace_strict(level, default=None, return_dtype=pl.Int64)
        .alias("_before"),
    )
    return matrix.with_columns(
        pl.when(pl.col("previous_round").is_null())
        .then(pl.lit(TRENDS[4]))
        .when(pl.col("_now").is_null() | pl.col("_before").is_null())
        .then(pl.lit(TRENDS[3]))
        .when(pl.col("_now") < pl.col("_before"))
        .then(pl.lit(TRENDS[0]))
        .when(pl.col("_now") > pl.col("_before"))
        .then(pl.lit(TRENDS[2]))
        .otherwise(pl.lit(TRENDS[1]))
        .alias("trend")
    )


@dataclass(frozen=True)
class ExplanationItem:
    indicator: str
    name: str
    dimension: str
    direction: str
    raw_value: float | None
    normalised: float | None
    weight_share: float
    contribution: float | None
    effect: str  # 提升, 拉低, 持平, 未计入
    id_kind: str | None
    ids: tuple[int, ...]
    id_count: int
    count_text: str
    text: str


@dataclass(frozen=True)
class CapReason:
    cap: str
    badge: str
    id_kind: str | None
    ids: tuple[int, ...]
    id_count: int
    count_text: str
    text: str


@dataclass(frozen=True)
class Explanation:
    unit_id: int
    unit_name: str
    peer_group: str
    score: float | None
    grade: str | None
    grade_label: str
    grade_uncapped: str | None
    small_sample: bool
    lifted: tuple[ExplanationItem, ...]
    lowered: tuple[ExplanationItem, ...]
    neutral: tuple[ExplanationItem, ...]
    unavailable: tuple[ExplanationItem, ...]
    caps: tuple[CapReason, ...]
    summary: str
    clue_details: bool
    as_of: dt.date
    config_digest: str
    label: str = LABEL

    def to_dict(self) -> dict[str, Any]:
        def item(obj: Any) -> dict[str, Any]:
            out = dict(obj.__dict__)
            out["ids"] = list(out["ids"])
            return out

        return {
            "label": self.label,
            "unit_id": self.unit_id,
            "unit": self.unit_name,
            "peer_group": self.peer_group,
            "score": self.score,
            "grade": self.grade,
            "grade_label": self.grade_label,
            "grade_uncapped": self.grade_uncapped,
            "small_sample": self.small_sample,
            "summary": self.summary,
            "lifted": [item(i) for i in self.lifted],
            "lowered": [item(i) for i in self.lowered],
            "neutral": [item(i) for i in self.neutral],
            "unavailable": [item(i) for i in self.unavailable],
            "caps": [item(c) for c in self.caps],
            "clue_details": self.clue_details,
            "as_of": self.as_of.isoformat(),
            "config_digest": self.config_digest,
        }


def explain_score(
    reader: Reader,
    scope: Scope,
    unit_id: int,
    *,
    config: EcologyConfig | None = None,
    cards: Scorecards | None = None,
    clue_details: bool = False,
) -> Explanation:
    """Which indicators lifted or lowered a unit's score, by how much, and the rows behind
    each: finding, measure or inspection ids; clue ids only when `clue_details` (the caller
    holds a case role, DOMAIN.md §7), otherwise only their count ("<3" for 1–2 in text)."""
    if cards is None:
        cards = scorecards(reader, scope, config)
    unit = cards.units.filter(pl.col("unit_id") == unit_id)
    if unit.is_empty():
        raise KeyError(f"单位 {unit_id} 不在范围内（或截至 {cards.as_of} 尚未反馈）")
    u = unit.row(0, named=True)
    evidence = {
        r["indicator"]: r
        for r in reader.query("ecology_evidence", scope.params(unit_id=unit_id)).iter_rows(
            named=True
        )
    }
    # Without clue rights a clue count is shown as disclosure control allows: the unit's
    # inspections' bands summed (xuncha.figures.disclosure), never the exact count of the ids.
    banded = (
        {}
        if clue_details
        else disclosure.by_unit(reader, scope, clue_details=False).get(unit_id, {})
    )
    clue_texts: dict[str, str] = (
        {}
        if clue_details
        else {
            key: banded[figure].text if figure in banded else "0"
            for key, figure in CLUE_FIGURES.items()
        }
    )
    persons = banded.get("heavier_form_persons")
    persons_text = persons.text if persons is not None else "0"
    items: list[ExplanationItem] = []
    for row in cards.indicators.filter(pl.col("unit_id") == unit_id).iter_rows(named=True):
        proof = evidence.get(row["indicator"])
        kind, ids, count = _evidence(proof, row["indicator"], clue_details)
        shown_count = clue_texts.get(row["indicator"]) if kind == "clue" else None
        contribution = row["contribution"]
        if not row["available"]:
            effect = "未计入"
        elif contribution > 1e-9:
            effect = "提升"
        elif contribution < -1e-9:
            effect = "拉低"
        else:
            effect = "持平"
        items.append(
            ExplanationItem(
                indicator=row["indicator"],
                name=row["indicator_name"],
                dimension=row["dimension"],
                direction=row["direction"],
                raw_value=row["raw_value"],
                normalised=_round2(row["normalised"]),
                weight_share=row["weight_share"],
                contribution=_round2(contribution),
                effect=effect,
                id_kind=kind,
                ids=ids,
                id_count=count if shown_count is None else 0,
                count_text=str(count) if shown_count is None else shown_count,
                text=_item_text(row, effect, kind, ids, count, shown_count, persons_text),
            )
        )
    caps = tuple(
        _cap_reason(cap, badge, u, evidence, clue_details, clue_texts)
        for cap, badge in zip(u["caps"], u["badges"], strict=True)
    )
    lifted = sorted((i for i in items if i.effect == "提升"), key=lambda i: -(i.contribution or 0))
    lowered = sorted((i for i in items if i.effect == "拉低"), key=lambda i: i.contribution or 0)
    summary = _summary(u, lifted, lowered, caps)
    return Explanation(
        unit_id=unit_id,
        unit_name=u["unit_name"],
        peer_group=u["peer_group"],
        score=u["score"],
        grade=u["grade"],
        grade_label=u["grade_label"],
        grade_uncapped=u["grade_uncapped"],
        small_sample=u["small_sample"],
        lifted=tuple(lifted),
        lowered=tuple(lowered),
        neutral=tuple(i for i in items if i.effect == "持平"),
        unavailable=tuple(i for i in items if i.effect == "未计入"),
        caps=caps,
        summary=summary,
        clue_details=clue_details,
        as_of=cards.as_of,
        config_digest=cards.config_digest,
    )


def _evidence(
    proof: Mapping[str, Any] | None, indicator: str, clue_details: bool
) -> tuple[str | None, tuple[int, ...], int]:
    if proof is None:
        return ("clue" if indicator in CLUE_EVIDENCE else None), (), 0
    ids = tuple(int(i) for i in proof["ids"])
    if proof["id_kind"] == "clue" and not clue_details:
        ids = ()
    return proof["id_kind"], ids, int(proof["id_count"])


# The measure word of each count indicator, per inspection (DOMAIN.md §6 counts).
_COUNT_UNITS = {
    "focus_findings": "个",
    "four_winds_findings": "个",
    "personnel_findings": "个",
    "heavier_forms": "人次",
}


def _fmt(value: float | None, indicator: str) -> str:
    """A raw value with its unit ("80.00%", "3 个", "0.21 项"), as the explanation reads it."""
    if value is None:
        return "—"
    if indicator.endswith("_rate") or indicator == "share_l1_a":
        return f"{_dec(value, 2)}%"
    if indicator == "regulations_per_finding":
        return f"{_short(value)} 项"
    if indicator in _COUNT_UNITS:
        return f"{_short(value)} {_COUNT_UNITS[indicator]}"
    return _short(value)


def _dec(value: float, places: int) -> str:
    quantum = Decimal(1).scaleb(-places)
    return str(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def _short(value: float) -> str:
    text = _dec(value, 2)
    return text.rstrip("0").rstrip(".") if "." in text else text


def _points(row: Mapping[str, Any]) -> str:
    """该项得分 42/100，占总分 11.7%: the indicator's score and its weight in the total."""
    return (
        f"该项得分 {_dec(row['normalised'], 0)}/100，占总分 {_dec(row['weight_share'] * 100, 1)}%"
    )


def _blend(row: Mapping[str, Any]) -> str:
    """How the score was formed: the peers compared and the share of the peer group."""
    share = row["peer_weight"] or 0.0
    return (
        f"同类组 {row['peers_compared']} 个可比单位，计分时同类组占 {_dec(share * 100, 0)}%、"
        f"本轮全部 {row['population_compared']} 个单位占 {_dec((1 - share) * 100, 0)}%"
    )


def _compared(value: float, median: float | None, shown: str) -> str:
    if median is None:
        return ""
    if abs(value - median) <= _EPS:
        return f"与同类组中位数 {shown}持平"
    return f"{'高于' if value > median else '低于'}同类组中位数 {shown}"


def _density_text(row: Mapping[str, Any], measure: str, thing: str) -> str:
    """每次巡察 12 个问题，为同类组中位数（9.5 个）的 1.26 倍."""
    per = row["numerator"] / row["n"] if row["n"] else 0.0
    head = f"每次巡察 {_short(per)} {measure}{thing}"
    reference, ratio = row["peer_reference"], row["raw_value"]
    if reference is None:
        return head + ("，同类组均为 0" if row["peer_median"] is not None else "")
    if row["peer_median"] is not None and row["peer_median"] > _EPS:
        base = "同类组中位数"
    else:
        base = "同类组均值（中位数为 0）"
    return f"{head}，为{base}（{_short(reference)} {measure}）的 {_dec(ratio, 2)} 倍"


def _ids_text(kind: str | None, ids: tuple[int, ...], count: int, shown: str | None) -> str:
    """The rows behind an indicator; `shown`: a clue count as disclosure control shows it to
    a reader without clue rights (None: the reader has them)."""
    if shown is not None:
        return "" if shown == "0" else f"{ID_KINDS['clue']} {shown} 条（明细仅限案件办理人员）"
    if not kind or count == 0:
        return ""
    # A count, never the ids: internal numbers mean nothing to a reader (issue 21); the
    # findings themselves are one pick away ("查看背后的问题").
    unit = {"measure": "条", "clue": "条", "inspection": "次"}.get(kind, "个")
    return f"涉及{ID_KINDS[kind]} {count} {unit}"


def _item_text(
    row: Mapping[str, Any],
    effect: str,
    kind: str | None,
    ids: tuple[int, ...],
    count: int,
    shown_count: str | None,
    shown_persons: str | None = None,
) -> str:
    """One indicator in plain words: its value with its unit, against the peer median, its
    score out of 100 and its weight in the total ("按期完成率 80.00%，低于同类组中位数
    86.50%，该项得分 42/100，占总分 11.7%"), then what it did to the score and the rows
    behind it."""
    name, key = row["indicator_name"], row["indicator"]
    if key in CLUE_EVIDENCE and shown_count is not None:
        # Without a case role no clue figure may be read off the text beyond what disclosure
        # control shows (DOMAIN.md §7): not the unit's own exactly, nor a peer's through a
        # median, nor one worked back from a ratio. So the text says what it shows and why.
        if key == "heavier_forms":
            persons = shown_persons or "0"
            basis = (
                "本单位没有运用第三、四种形态处理的人员"
                if persons == "0"
                else f"本单位运用第三、四种形态处理 {persons} 人次"
            )
        else:
            basis = (
                "本单位没有问题线索" if shown_count == "0" else f"本单位问题线索 {shown_count} 条"
            )
        basis += "（按披露规则显示，同类组比较值和明细仅限案件办理人员）"
        if effect == "未计入":
            return f"{name}：{basis}，未计入"
        return f"{name}：{basis}，{_points(row)}" + _verb(effect, row["contribution"])
    density = {"finding_density": ("个", "问题"), "clue_density": ("条", "线索")}.get(key)
    value = _density_text(row, *density) if density else _fmt(row["raw_value"], key)
    if effect == "未计入":
        reason = row["note"] or ("指标未启用" if not row["enabled"] else "无法与同类单位比较")
        return f"{name}：{value}，未计入（{reason}）"
    if density:
        parts = [f"{name}：{value}"]
    elif key in _COUNT_UNITS:
        parts = [f"{name}：每次巡察 {value}"]
    else:
        parts = [f"{name} {value}"]
    if density is None and row["peer_median"] is not None:
        # Both references the score is formed from, each with its share: a value level with the
        # peers can still score low when it is low in the whole round (the peers' share is
        # small in a small group).
        share = row["peer_weight"] or 0.0
        parts.append(
            _compared(row["raw_value"], row["peer_median"], _fmt(row["peer_median"], key))
            + f"（同类组 {row['peers_compared']} 个可比单位，计分占 {_dec(share * 100, 0)}%）"
        )
        if row["population_median"] is not None and share < 1 - _EPS:
            whole = f"本轮全部 {row['population_compared']} 个单位的中位数"
            parts.append(
                _compared(
                    row["raw_value"], row["population_median"], _fmt(row["population_median"], key)
                ).replace("同类组中位数", whole)
                + f"（计分占 {_dec((1 - share) * 100, 0)}%）"
            )
    else:
        parts.append(_blend(row))
    parts.append(_points(row))
    text = "，".join(parts) + _verb(effect, row["contribution"])
    behind = _ids_text(kind, ids, count, None)
    return text + (f"；{behind}" if behind else "")


def _verb(effect: str, contribution: float | None) -> str:
    if effect == "未计入" or contribution is None:
        return ""
    change = abs(contribution)
    return {"提升": f"，提升总分 {change:.2f} 分", "拉低": f"，拉低总分 {change:.2f} 分"}.get(
        effect, "，对总分无影响"
    )


def _cap_reason(
    cap: str,
    badge: str,
    unit: Mapping[str, Any],
    evidence: Mapping[str, Mapping[str, Any]],
    clue_details: bool,
    clue_texts: Mapping[str, str],
) -> CapReason:
    source = {"fourth_form": "fourth_form", "rebound": "rebound_rate", "overdue": "overdue_rate"}
    proof = evidence.get(source.get(cap, ""))
    kind, ids, count = _evidence(proof, source.get(cap, ""), clue_details)
    shown_count = clue_texts.get(source.get(cap, "")) if kind == "clue" else None
    if cap == "small_sample":
        text = f"问题数 {unit['findings']} 个，少于样本线，不评等次、不参与排名"
    elif cap == "overdue":
        text = f"{badge}：逾期率 {unit['overdue_rate']:.2f}%"
    else:
        text = badge
    behind = _ids_text(kind, ids, count, shown_count)
    return CapReason(
        cap=cap,
        badge=badge,
        id_kind=kind,
        ids=ids,
        id_count=count if shown_count is None else 0,
        count_text=str(count) if shown_count is None else shown_count,
        text=text + (f"；{behind}" if behind else ""),
    )


def _summary(
    unit: Mapping[str, Any],
    lifted: list[ExplanationItem],
    lowered: list[ExplanationItem],
    caps: tuple[CapReason, ...],
) -> str:
    head = f"{unit['unit_name']}（{unit['peer_group']}）"
    if unit["score"] is None:
        head += "：无法评分"
    else:
        head += f"：{unit['score']:.2f} 分，{unit['grade_label']}"
        if unit["capped"]:
            head += f"（按得分为{unit['grade_uncapped']}，因封顶规则降为{unit['grade']}）"
    parts = [head]
    if lowered:
        parts.append("主要拉低：" + "、".join(i.name for i in lowered[:3]))
    if lifted:
        parts.append("主要提升：" + "、".join(i.name for i in lifted[:3]))
    if caps:
        parts.append("徽标：" + "、".join(c.badge for c in caps))
    return "；".join(parts) + f"。{LABEL}。"


# -- records for the command line and exports -------------------------------------------


def scorecard_records(cards: Scorecards) -> list[dict[str, Any]]:
    """One nested record per unit: score, grade, caps, dimensions and indicators."""
    indicators = (
        cards.indicators.select(
            "unit_id",
            pl.struct(
                pl.col("indicator").alias("key"),
                pl.col("indicator_name").alias("name"),
                "dimension",
                "direction",
                pl.when(pl.col("direction") == "+")
                .then(pl.lit("正向"))
                .otherwise(pl.lit("逆向"))
                .alias("direction_label"),
                "enabled",
                _half_up("raw_value", 4),
                "numerator",
                "n",
                _half_up("peer_reference", 4),
                _half_up("peer_best", 4),
                _half_up("peer_worst", 4),
                "peers_compared",
                _half_up("normalised", 2),
                "available",
                _half_up("weight_share", 4),
                _half_up("contribution", 2),
                "note",
            ).alias("indicators"),
        )
        .group_by("unit_id", maintain_order=True)
        .agg("indicators")
    )
    dimensions = {
        row["unit_id"]: {d["key"]: {k: v for k, v in d.items() if k != "key"} for d in row["d"]}
        for row in cards.dimensions.select(
            "unit_id",
            pl.struct(
                pl.col("dimension").alias("key"),
                pl.col("dimension_name").alias("name"),
                "weight",
                _half_up("weight_share", 4),
                _half_up("score", 2),
                "indicators_available",
            ).alias("d"),
        )
        .group_by("unit_id", maintain_order=True)
        .agg("d")
        .iter_rows(named=True)
    }
    units = cards.units.join(indicators, on="unit_id", how="left").select(
        "label",
        "unit_id",
        pl.col("unit_name").alias("unit"),
        "peer_group",
        "sector",
        "inspections",
        "findings",
        "small_sample",
        "score",
        "grade",
        "grade_label",
        "grade_uncapped",
        "capped",
        "caps",
        "badges",
        "peer_rank",
        "peer_rated",
        "peer_units",
        "indicators",
        "config_digest",
        pl.col("as_of").cast(pl.String),
    )
    out = []
    for row in units.iter_rows(named=True):
        row["indicators"] = row["indicators"] or []
        row["dimensions"] = dimensions.get(row["unit_id"], {})
        out.append(row)
    return out


def _half_up(column: str, decimals: int) -> pl.Expr:
    return pl.col(column).round(decimals, mode="half_away_from_zero")


def scorecard_table(cards: Scorecards, *, clue_details: bool = False) -> pl.DataFrame:
    """One flat row per unit (for CSV): unit fields, dimension scores, and per indicator its
    raw value, n, normalised score and direction (正向/逆向, never a leading + or -). The raw
    value and n of the clue indicators (exact clue counts, or ratios of them) only with
    `clue_details`: otherwise nothing a clue count could be worked back from."""
    units = cards.units.select(
        "label",
        "unit_id",
        "unit_name",
        "peer_group",
        "sector",
        "inspections",
        "findings",
        "small_sample",
        "score",
        "grade",
        "grade_label",
        "grade_uncapped",
        "capped",
        pl.col("caps").list.join("；"),
        pl.col("badges").list.join("；"),
        "peer_rank",
        "peer_rated",
        *(_half_up(f"dimension_{d}", 2) for d in DIMENSIONS),
        "config_digest",
        pl.col("as_of").cast(pl.String),
    )
    ind = cards.indicators.with_columns(
        _half_up("raw_value", 4),
        _half_up("normalised", 2),
        pl.when(pl.col("direction") == "+")
        .then(pl.lit("正向"))
        .otherwise(pl.lit("逆向"))
        .alias("direction"),
    )
    wide = ind.pivot(
        on="indicator",
        index="unit_id",
        values=["raw_value", "n", "normalised", "direction"],
    )
    rename = {
        f"{v}_{k}": f"{k}_{v}"
        for k in INDICATORS
        for v in ("raw_value", "n", "normalised", "direction")
    }
    wide = wide.rename({k: v for k, v in rename.items() if k in wide.columns})
    hidden = set() if clue_details else {"raw_value", "n"}
    ordered = [
        f"{k}_{v}"
        for k in INDICATORS
        for v in ("raw_value", "n", "normalised", "direction")
        if f"{k}_{v}" in wide.columns and not (k in CLUE_EVIDENCE and v in hidden)
    ]
    return units.join(wide.select("unit_id", *ordered), on="unit_id", how="left")

"""Every figure of DOMAIN.md §5 (and the §6 scorecards), defined once, as functions over
named queries.

Pages, the command line, exports and briefings all call these; none computes a rate itself.
"""

from xuncha.figures.ecology import LABEL as ECOLOGY_LABEL
from xuncha.figures.ecology import METHOD as ECOLOGY_METHOD
from xuncha.figures.ecology import (
    EcologyConfig,
    EcologyConfigError,
    Explanation,
    Scorecards,
    config_for_store,
    default_ecology_round,
    explain_score,
    grade_movement,
    peer_ranking,
    save_config,
    score_trend,
    scorecard_records,
    scorecard_table,
    scorecards,
    store_config_path,
)
from xuncha.figures.rates import (
    COMMON_K_MIN,
    COMMON_K_SHARE,
    DEFINITIONS,
    MIN_SAMPLE,
    Figure,
    rate,
)
from xuncha.figures.rectification import (
    GROUPINGS,
    common_problems,
    findings_density,
    metrics_records,
    mostly_not_due,
    overview,
    prefetch_rectification,
    progress_curve,
    rectification,
)
from xuncha.figures.revisit import revisit_candidates
from xuncha.figures.revisit_rule import RevisitRule, RevisitRuleError
from xuncha.figures.search import SearchError, TextIndex, search_sql, search_terms

__all__ = [
    "COMMON_K_MIN",
    "COMMON_K_SHARE",
    "DEFINITIONS",
    "ECOLOGY_LABEL",
    "ECOLOGY_METHOD",
    "GROUPINGS",
    "MIN_SAMPLE",
    "EcologyConfig",
    "EcologyConfigError",
    "Explanation",
    "Figure",
    "RevisitRule",
    "RevisitRuleError",
    "Scorecards",
    "SearchError",
    "TextIndex",
    "common_problems",
    "config_for_store",
    "default_ecology_round",
    "explain_score",
    "findings_density",
    "grade_movement",
    "metrics_records",
    "mostly_not_due",
    "overview",
    "peer_ranking",
    "prefetch_rectification",
    "progress_curve",
    "rate",
    "rectification",
    "revisit_candidates",
    "save_config",
    "score_trend",
    "scorecard_records",
    "scorecard_table",
    "scorecards",
    "search_sql",
    "search_terms",
    "store_config_path",
]

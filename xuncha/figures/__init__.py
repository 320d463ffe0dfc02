"""Every figure of DOMAIN.md §5, defined once, as functions over named queries.

Pages, the command line, exports and briefings all call these; none computes a rate itself.
"""

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
    metrics_records,
    overview,
    progress_curve,
    rectification,
)

__all__ = [
    "COMMON_K_MIN",
    "COMMON_K_SHARE",
    "DEFINITIONS",
    "GROUPINGS",
    "MIN_SAMPLE",
    "Figure",
    "common_problems",
    "metrics_records",
    "overview",
    "progress_curve",
    "rate",
    "rectification",
]

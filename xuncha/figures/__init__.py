"""Every figure of DOMAIN.md §5, defined once, as functions over named queries.

Pages, the command line, exports and briefings all call these; none computes a rate itself.
"""

from xuncha.figures.rates import DEFINITIONS, MIN_SAMPLE, Figure, rate
from xuncha.figures.rectification import (
    GROUPINGS,
    metrics_records,
    overview,
    rectification,
)

__all__ = [
    "DEFINITIONS",
    "GROUPINGS",
    "MIN_SAMPLE",
    "Figure",
    "metrics_records",
    "overview",
    "rate",
    "rectification",
]

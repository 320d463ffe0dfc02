"""整改成效评估: a configurable scorecard per unit per round (DOMAIN.md §1 step 4).

- `config`: the items, points, deductions, 一票否决 items and grade bands (TOML; the packaged
  default xuncha/evaluation_default.toml, a store's own STORE/config/evaluation.toml);
- `scoring`: the automatic items pre-filled from the figures, the confirmed manual items, the
  total, the grade, 暂评 and 表面整改 vs 实质整改 (`evaluate`, `grades`);
- `entries`: entering a manual item with its evidence and confirming another person's entry
  (two people), each a data version and an audit record;
- `archive`: a round's evaluation kept with its data version and configuration digest under
  STORE/evaluations/, sealed when the store has a key.

`grades(reader, scope, config=None, *, rule=None)` is the public API the 回头看 candidates read.
"""

from xuncha.evaluation.config import (
    EvaluationConfig,
    EvaluationConfigError,
    config_for_store,
    save_config_text,
)
from xuncha.evaluation.scoring import LABEL, METHOD, Evaluation, evaluate, grades

__all__ = [
    "LABEL",
    "METHOD",
    "Evaluation",
    "EvaluationConfig",
    "EvaluationConfigError",
    "config_for_store",
    "evaluate",
    "grades",
    "save_config_text",
]

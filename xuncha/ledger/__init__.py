"""Ledger import (整改台账): read the Excel and CSV ledgers units really keep, validate them
without touching the store, apply them as one atomic, idempotent batch with status history,
roll a batch back, and write the standard template.

    result = read_ledger(Path("住建局台账.xlsx"), feedback_date=date(2024, 3, 15))
    result.ok, result.report_frame(), result.findings
    outcome = import_ledgers(store, [path], round_name="十四届市委第五轮巡察", unit_name="市住建局")
    rollback_batch(store, outcome.files[0].batch_id)
    write_template(Path("整改台账模板.xlsx"))

Never imports streamlit; the page and the command line are thin layers over these calls.
"""

from xuncha.ledger.annotate import annotated_copy, group_problems, grouped_frame, grouped_lines
from xuncha.ledger.apply import (
    FileOutcome,
    ImportOutcome,
    demo_refusal,
    import_ledgers,
    load_aliases,
)
from xuncha.ledger.model import (
    LedgerLimits,
    LedgerResult,
    ParsedFinding,
    ParsedMeasure,
    Problem,
    report_frame,
)
from xuncha.ledger.pairing import (
    DecisionKey,
    Decisions,
    PairingFileError,
    read_pairing_file,
    write_pairing_file,
)
from xuncha.ledger.reader import read_ledger
from xuncha.ledger.rollback import RollbackOutcome, RollbackRefused, list_batches, rollback_batch
from xuncha.ledger.template import write_template
from xuncha.ledger.workdays import load_calendar

__all__ = [
    "DecisionKey",
    "Decisions",
    "FileOutcome",
    "ImportOutcome",
    "LedgerLimits",
    "LedgerResult",
    "PairingFileError",
    "ParsedFinding",
    "ParsedMeasure",
    "Problem",
    "RollbackOutcome",
    "RollbackRefused",
    "annotated_copy",
    "demo_refusal",
    "group_problems",
    "grouped_frame",
    "grouped_lines",
    "import_ledgers",
    "list_batches",
    "load_aliases",
    "load_calendar",
    "read_ledger",
    "read_pairing_file",
    "report_frame",
    "rollback_batch",
    "write_pairing_file",
    "write_template",
]

"""Rectification reported and accepted online (整改填报与销号, DOMAIN.md §8).

A unit's liaison (被巡察单位联络员) reports progress on its measures, submits a measure as done
with evidence, and asks for extensions; a reviewer (巡察组 or 监督检查室) passes or returns each
submission; the inspection office (巡察办) closes it (销号) and decides extensions. Submitter,
reviewer and approver are three different accounts. Every step is a new data version written
through `Store.write` (one transaction), a dated row of `rectify_steps` and an audit record;
the figures read only approved states (measure_status_history, measure_deadline_history).

Modules:
    workflow   the steps and their checks (who may do what, in which state, in which scope)
    evidence   evidence files: checks, content-addressed storage, scoped reading
    notices    the daily 绿/黄/红 notices, their recipients and numbered documents
    mail       optional delivery of notices through a configured SMTP server
    contacts   the directory of recipients (主要负责人, 联络员, 巡察办 …)
    roundtrip  a unit's open measures as a ledger to fill in, and its upload as submissions
"""

"""Evaluation (综合评价): indicators, rollups, composite scores and league tables, the daily briefing.

    facts.py       what one case contributes (a pure function of its event log and stage clocks)
    rollups.py     keeps the fact and rollup tables current (a beat sweep over the event log) and rebuilds them
    direct.py      the same counters counted straight from cases, events and clocks (the check on the rollups)
    indicators.py  indicator definitions: each a counter or a ratio of two counters
    selectors.py   indicator tables from the rollups, within the caller's scope
    scores.py      composite scores, grades, ranks, the monthly red/yellow lists and the black list
    briefing.py    the daily briefing (一日一研商)
    exports.py     CSV and XLSX downloads
    api.py         the metrics API

Formulas and edge cases: docs/indicators.md.
"""

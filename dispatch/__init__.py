"""WHO ACTS BY WHEN: routing rules, SLA policies and stage clocks, the work calendar, escalation, 催办/督办, the
notification outbox, evaluation indicators and league tables."""

"""Routing rules, SLA policies, clocks, escalation, outbox and indicators arrive with the routing/clock issue."""

"""Dispatch models, one file per concept."""

from .calendar import CalendarOverride
from .evaluation import (
    BlackListing,
    Briefing,
    CaseFact,
    DailyFact,
    FactItem,
    LeagueEntry,
    LeagueTable,
    RollupCursor,
    SummaryFact,
)
from .heartbeat import Heartbeat
from .outbox import InboxItem, OutboxChannel, OutboxMessage, OutboxState
from .routing import RoutingRule
from .sla import Light, SlaPolicy, Stage, StageClock
from .supervision import SupervisionKind, SupervisionOrder, SupervisionTemplate, SupervisionType

__all__ = ["CalendarOverride", "Heartbeat", "InboxItem", "OutboxChannel", "OutboxMessage", "OutboxState", "RoutingRule", "SupervisionKind", "SupervisionOrder", "SupervisionTemplate", "SupervisionType",
           "Light", "SlaPolicy", "Stage", "StageClock",
           "BlackListing", "Briefing", "CaseFact", "DailyFact", "FactItem", "LeagueEntry", "LeagueTable", "RollupCursor",
           "SummaryFact"]

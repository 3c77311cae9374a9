"""Dispatch models, one file per concept."""

from .calendar import CalendarOverride
from .heartbeat import Heartbeat
from .routing import RoutingRule

__all__ = ["CalendarOverride", "Heartbeat", "RoutingRule"]

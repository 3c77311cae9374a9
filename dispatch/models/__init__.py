"""Dispatch models, one file per concept."""

from .heartbeat import Heartbeat

__all__ = ["Heartbeat"]

"""Rule evaluation as pure code (no database): readings of one (device, rule) in ts order → alarms and recoveries.

A reading *breaches* a rule when the device flags it as an alarm, or when its value is beyond the threshold
(``value > threshold`` for ``gt`` …). A *run* is a stretch of consecutive breaching readings. A run raises one alarm:
at once when a reading of it carries the device's alarm flag, else when it has lasted ``duration`` (the reading whose
ts is at least ``duration`` after the run's first). The first non-breaching reading after a run that raised an
alarm is a *recovery*. A run that ends before it lasted long enough raises nothing.

``evaluate`` continues from a ``RunState``; readings must come in (ts, seq) order. Late readings (older than the
state's last) are handled by the service by replaying the stored history around them (``emitted_by``, which
compares the runs with and without the late readings).
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

ALARM, RECOVERED = "alarm", "recovered"


@dataclass(frozen=True, slots=True)
class Reading:
    """One reading as the rules see it. The functions here read only these four attributes, so the service hands
    them its parsed events as they are (``events.sensors.ingestion._Event``) instead of making a copy per event."""

    seq: int
    ts: datetime
    value: float
    alarm: bool = False

    @property
    def order(self) -> tuple:
        return self.ts, self.seq


class Observation(Protocol):
    """What the functions here read of a reading: a ``Reading``, or the service's parsed event, which has these too."""

    @property
    def seq(self) -> int: ...
    @property
    def ts(self) -> datetime: ...
    @property
    def value(self) -> float: ...
    @property
    def alarm(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Condition:
    comparison: str  # gt, gte, lt, lte
    threshold: float | None  # None: only the device's alarm flag counts
    duration: timedelta

    def breaches(self, reading: Observation) -> bool:
        if reading.alarm:
            return True
        threshold = self.threshold
        if threshold is None:
            return False
        value, comparison = reading.value, self.comparison
        if comparison == "gt":
            return value > threshold
        if comparison == "gte":
            return value >= threshold
        if comparison == "lt":
            return value < threshold
        return value <= threshold


@dataclass(frozen=True, slots=True)
class RunState:
    run_start: datetime | None = None
    run_fired: bool = False
    last_ts: datetime | None = None
    last_seq: int | None = None

    def is_before(self, reading: Observation) -> bool:
        """Whether ``reading`` comes after everything evaluated so far (the in-order case)."""
        return self.last_ts is None or (reading.ts, reading.seq) > (self.last_ts, self.last_seq or 0)


@dataclass(frozen=True, slots=True)
class Emit:
    kind: str  # ALARM or RECOVERED
    reading: Observation
    since: datetime | None  # the run's first breaching reading (for an alarm)

    @property
    def key(self) -> tuple:
        return self.kind, self.reading.seq


def evaluate(condition: Condition, state: RunState, readings: Sequence[Observation]) -> tuple[RunState, list[Emit]]:
    """Step through ``readings`` (in (ts, seq) order) from ``state``; the new state and what it raised."""
    run_start, fired, last = state.run_start, state.run_fired, None
    emits: list[Emit] = []
    duration = condition.duration
    for reading in readings:
        last = reading
        if condition.breaches(reading):
            if run_start is None:
                run_start, fired = reading.ts, False
            if not fired and (reading.alarm or reading.ts - run_start >= duration):
                fired = True
                emits.append(Emit(ALARM, reading, run_start))
        else:
            if fired:
                emits.append(Emit(RECOVERED, reading, run_start))
            run_start, fired = None, False
    if last is None:
        return state, emits
    return replace(state, run_start=run_start, run_fired=fired, last_ts=last.ts, last_seq=last.seq), emits


@dataclass(slots=True)
class Run:
    """A stretch of consecutive breaching readings, the reading that raised its alarm (if it did) and the first
    non-breaching reading after it."""

    readings: list[Reading]
    fired: Reading | None = None
    recovery: Reading | None = None


def runs(condition: Condition, readings: list[Reading]) -> list[Run]:
    """The runs of ``readings`` (in (ts, seq) order), evaluated from an empty state (as ``evaluate``)."""
    found: list[Run] = []
    current: Run | None = None
    for reading in readings:
        if condition.breaches(reading):
            if current is None:
                current = Run([])
                found.append(current)
            current.readings.append(reading)
            start = current.readings[0].ts
            if current.fired is None and (reading.alarm or reading.ts - start >= condition.duration):
                current.fired = reading
        elif current is not None:
            current.recovery = reading
            current = None
    return found


def emitted_by(condition: Condition, history: list[Reading], new_seqs: set[int]) -> tuple[RunState, list[Emit]]:
    """Replay ``history`` (old and new readings, in (ts, seq) order, starting right after a non-breaching reading or
    at the oldest one kept) and return the final state and what the new readings add.

    Alarms already raised are never taken back, and a run that holds the reading an earlier alarm was raised at has
    had its alarm (even if the late readings moved its start); a recovery is new when no earlier recovery was
    recorded at the same reading."""
    state, _ = evaluate(condition, RunState(), history)
    before = runs(condition, [r for r in history if r.seq not in new_seqs])
    raised = {run.fired.seq for run in before if run.fired is not None}
    recovered = {run.recovery.seq for run in before if run.fired is not None and run.recovery is not None}
    emits = []
    for run in runs(condition, history):
        if run.fired is None:
            continue
        since = run.readings[0].ts
        if not any(r.seq in raised for r in run.readings):
            emits.append(Emit(ALARM, run.fired, since))
        if run.recovery is not None and run.recovery.seq not in recovered:
            emits.append(Emit(RECOVERED, run.recovery, since))
    return state, emits

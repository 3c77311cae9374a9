"""Writes for the sensor channel — the public API the rest of the project calls; the work is done in one module per
part:

    registry.py     devices and integration keys (register, CSV import, secrets); the per-process copies of the
                    active rules and devices that every batch reads
    signers.py      who signed an HTTP batch (device or integration key), checked against the registry
    ingestion.py    a batch in one transaction: check, store (one INSERT … ON CONFLICT), evaluate the rules
    rule_states.py  the per-(device, rule) evaluation state, locked in id order by whoever writes alarms
    alarms.py       alarms → cases: occurrences and recoveries on the open case's timeline, new cases after the commit
    rejects.py      the reject counters (per day, source and reason)
    retention.py    purging raw readings past their retention
"""

from .alarms import sensor_alarms_process
from .ingestion import IngestResult, Rejection, events_from_message, sensor_batch_events, sensor_events_ingest
from .registry import (
    DEVICE_COLUMNS,
    DeviceImportError,
    DeviceImportSummary,
    device_check,
    device_register,
    device_secret_rotate,
    devices_import,
    integration_key_create,
    sensor_config_changed,
    sensor_config_invalidate,
)
from .rejects import refuse, reject_count
from .retention import sensor_readings_purge
from .signers import SIGNER_REFUSED, Signer, sensor_signer_check

__all__ = [
    "DEVICE_COLUMNS", "SIGNER_REFUSED", "DeviceImportError", "DeviceImportSummary", "IngestResult", "Rejection",
    "Signer", "device_check", "device_register", "device_secret_rotate", "devices_import", "events_from_message",
    "integration_key_create", "refuse", "reject_count", "sensor_alarms_process", "sensor_batch_events",
    "sensor_config_changed", "sensor_config_invalidate", "sensor_events_ingest", "sensor_readings_purge",
    "sensor_signer_check",
]

"""WHAT HAPPENED: categories (部件/事件 大类/小类), inbound reports per channel, the case and its state machine, the
append-only case event log, attachments and duplicates."""

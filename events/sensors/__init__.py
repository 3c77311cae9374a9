"""IoT sensors (物联感知): the device registry, alarm rules and the ingestion of readings over HTTP and MQTT.

    models.py     devices, integration keys, rules, raw readings, per-(device, rule) state, alarms, reject counters
    signing.py    the HMAC-SHA256 signature of a batch (shared by the HTTP endpoint, clients, tests and the bench)
    rules.py      rule evaluation as pure code: a reading sequence in ts order → alarm / recovered transitions
    services.py   writes, the API the rest of the project calls (re-exported from the modules below)
    registry.py   register/import devices and integration keys; per-process copies of rules and devices
    signers.py    who signed an HTTP batch, checked against the registry
    ingestion.py  a batch in one transaction: check, store (one bulk insert), evaluate the rules
    rule_states.py  the per-(device, rule) evaluation state and its lock
    alarms.py     alarms → cases (occurrences, recoveries, new cases after the commit)
    rejects.py    reject counters;  retention.py  purging old readings
    selectors.py  reads: devices in a user's area, reject counts
    api.py        ``POST /api/v1/sensors/events`` (signed batches), admin reads
    bridge.py     the MQTT bridge (``manage.py sensor_bridge``): bounded queue, ack after commit
    tasks.py      Celery beat: retention purge, alarms left pending by a crash

Cases are opened only through ``events.services.case_report`` (channel ``sensor``, a system actor); re-alarms and
recoveries are appended to the open case's timeline through ``events.services.case_signals``.
"""

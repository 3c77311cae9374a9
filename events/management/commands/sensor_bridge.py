import logging
import signal
import time

from django.core.management.base import BaseCommand

from config.gc_tuning import freeze_loaded_application
from events.sensors.bridge import SensorBridge

log = logging.getLogger("events.sensors.bridge")


class Command(BaseCommand):
    help = ("Run the MQTT bridge: subscribe to the sensor topic (GRIDLOOP_SENSOR_MQTT_TOPIC, default "
            "gridloop/sensors/+/events) with QoS 1 on a persistent session and ingest the events; SIGTERM/SIGINT "
            "stop it after the batch in hand. Settings: GRIDLOOP_SENSOR_MQTT_* (the options override them).")

    def add_arguments(self, parser):
        parser.add_argument("--host")
        parser.add_argument("--port", type=int)
        parser.add_argument("--topic")
        parser.add_argument("--client-id")
        parser.add_argument("--stats-every", type=float, default=60, help="log the counters every N seconds")

    def handle(self, *args, host=None, port=None, topic=None, client_id=None, stats_every=60, **options):
        bridge = SensorBridge(host=host, port=port, topic=topic, client_id=client_id)

        def stop(signum, frame):
            bridge.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"sensor bridge: {bridge.host}:{bridge.port} topic {bridge.topic} "
                          f"client id {bridge.client_id} (QoS {bridge.qos}, persistent session)")
        freeze_loaded_application()
        bridge.start()
        next_stats = time.monotonic() + stats_every
        try:
            while not bridge.stopping.is_set():
                bridge.step()
                if time.monotonic() >= next_stats:
                    log.info("sensor bridge: %s", dict(bridge.stats))
                    next_stats = time.monotonic() + stats_every
        finally:
            bridge.stop()
        self.stdout.write(f"sensor bridge stopped: {dict(bridge.stats)}")

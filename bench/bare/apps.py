from django.apps import AppConfig


class BareConfig(AppConfig):
    """A bare DRF create endpoint: the baseline the intake benchmark compares Gridloop's intake against."""

    name = "bench.bare"
    label = "bench_bare"

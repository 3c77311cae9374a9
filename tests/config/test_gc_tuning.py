"""The collector settings of long-running processes: gunicorn's post_worker_init and the MQTT bridge apply them."""

import gc
import runpy
from pathlib import Path

import pytest

from config.gc_tuning import THRESHOLDS, freeze_loaded_application


@pytest.fixture
def collector():
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_freezing_moves_what_is_loaded_out_of_sight_and_raises_the_thresholds(collector):
    assert gc.get_threshold() != THRESHOLDS
    freeze_loaded_application()
    assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() > 0


def test_gunicorns_worker_hook_applies_them(collector):
    conf = runpy.run_path(str(Path(__file__).resolve().parents[2] / "config" / "gunicorn.conf.py"))
    assert conf["worker_class"] == "gthread"
    conf["post_worker_init"](worker=None)
    assert gc.get_threshold() == THRESHOLDS

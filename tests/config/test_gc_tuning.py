"""The collector settings of long-running processes (config/gc_tuning.py)."""

import gc

from config.gc_tuning import THRESHOLDS, freeze_loaded_application


def test_freezing_moves_what_is_loaded_out_of_sight_and_raises_the_thresholds(collector):
    assert gc.get_threshold() != THRESHOLDS
    freeze_loaded_application()
    assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() > 0

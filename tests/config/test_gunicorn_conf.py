"""config/gunicorn.conf.py: the collector settings in each worker, one connection per thread and no keep-alive."""

import gc
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from config.gc_tuning import THRESHOLDS

CONF = Path(__file__).resolve().parents[2] / "config" / "gunicorn.conf.py"


def test_each_worker_applies_the_collector_settings_once_loaded(collector):
    conf = runpy.run_path(str(CONF))
    assert conf["worker_class"] == "gthread"
    conf["post_worker_init"](worker=None)
    assert gc.get_threshold() == THRESHOLDS


@pytest.mark.parametrize("override, expected", [(None, 3), ("7", 7)])
def test_a_worker_takes_as_many_connections_as_it_has_threads_and_none_is_kept_alive(monkeypatch, override,
                                                                                      expected):
    if override is None:
        monkeypatch.delenv("GUNICORN_WORKER_CONNECTIONS", raising=False)
    else:
        monkeypatch.setenv("GUNICORN_WORKER_CONNECTIONS", override)
    monkeypatch.delenv("GUNICORN_KEEPALIVE", raising=False)
    conf = runpy.run_path(str(CONF))
    assert conf["keepalive"] == 0
    cfg = Config()
    cfg.set("threads", 3)  # as the command line's --threads sets it, after the file is read
    conf["on_starting"](SimpleNamespace(cfg=cfg))
    assert cfg.worker_connections == expected

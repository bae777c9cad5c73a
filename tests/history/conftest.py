from __future__ import annotations

import pytest

from paii_history.config import HistorySettings
from paii_history.server import build_server
from paii_history.store import HistoryStore


@pytest.fixture
def settings(isolated_env):
    return HistorySettings.load(home=isolated_env, warmup=False)


@pytest.fixture
def store(settings):
    s = HistoryStore(settings)
    yield s
    s.close()


@pytest.fixture
def server(settings, store):
    return build_server(settings, store)


INCIDENTS = [
    dict(id="INC-456", title="payments-api timeouts at checkout", service="payments-api",
         root_cause="Database connection pool exhaustion", resolution="Increased pool size from 50 to 100",
         started="2026-11-12T02:00:00Z", status="resolved"),
    dict(id="INC-234", title="payments-api errors on authorisation", service="payments-api",
         root_cause="Redis cache expired", resolution="Extended TTL on critical keys",
         started="2026-10-27T19:00:00Z", status="resolved"),
    dict(id="INC-377", title="logs-storage-03 disk full", service="logging",
         root_cause="retention job failing after credential rotation", resolution="expanded the disk and fixed the job",
         started="2026-10-02T03:00:00Z", status="resolved"),
]

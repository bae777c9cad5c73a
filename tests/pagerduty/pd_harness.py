"""The PagerDuty server under test, wired to the stateful fake (pd_fake) with fast retries."""

from __future__ import annotations

from pd_fake import FROM, TOKEN, FakePagerDuty

from paii_common.http import RetryPolicy
from paii_common.redact import register_secret
from paii_pagerduty.client import PagerDutyClient
from paii_pagerduty.config import PagerDutySettings
from paii_pagerduty.server import build_server
from paii_pagerduty.session import session_class

FAST = RetryPolicy(backoff_base=0.001, backoff_max=0.005, max_retry_after=5)


def make_server(fake: FakePagerDuty, *, token: str | None = TOKEN, from_email: str | None = FROM, policy=FAST,
                **overrides):
    """build_server with settings for fake (overrides: any other setting, e.g. read_only, read_timeout)
    and a client that uses the settings' token, sender and timeouts."""
    session_class()  # pdpyras imported before the clock runs: a busy machine must not eat the deadline
    settings = PagerDutySettings.load(token=token, from_email=from_email, url=fake.url, **overrides)
    register_secret(*settings.secret_values())
    client = PagerDutyClient(
        settings.token_value, from_email=settings.from_email, url=settings.url, policy=policy,
        read_timeout=settings.read_timeout, write_timeout=settings.write_timeout,
    )
    return build_server(settings, client)

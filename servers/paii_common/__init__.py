"""Shared plumbing for PAII servers: settings, errors, HTTP retry, tool registration, logging.

Import nothing heavy here: every server imports this package before answering ``initialize``.
"""

from paii_common.config import PaiiSettings, paii_config_dir, paii_home
from paii_common.errors import (
    Conflict,
    DeadlineExceeded,
    InvalidInput,
    NotConfigured,
    NotFound,
    PaiiError,
    RateLimited,
    UpstreamError,
)
from paii_common.redact import redact, register_secret, setup_logging
from paii_common.tools import register_tools, tool

__all__ = [
    "Conflict",
    "DeadlineExceeded",
    "InvalidInput",
    "NotConfigured",
    "NotFound",
    "PaiiError",
    "PaiiSettings",
    "RateLimited",
    "UpstreamError",
    "paii_config_dir",
    "paii_home",
    "redact",
    "register_secret",
    "register_tools",
    "setup_logging",
    "tool",
]

"""Every request PAII made and every response the sandbox gave (PagerDuty, Slack, Jira), checked
against the vendor's published OpenAPI spec (../shared/api-mocks, the same files the Prism mocks serve) with
openapi-core. Tests may read ../shared; the product never does.

The published specs disagree with the live APIs in a few documented places; those are listed
in ``KNOWN_SPEC_GAPS`` (pattern of the validator's message, or of "METHOD PATH: message" -> why
it is not a sandbox defect). Anything else fails the test. Kubernetes is not checked here: its
published spec is Swagger 2.0 (tests/kubernetes checks the sandbox cluster against it).
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SHARED") or ROOT.parent / "shared")
SPECS = {
    "pagerduty": ("pagerduty/openapiv3.prism.json", "https://api.pagerduty.com"),
    "slack": ("slack/slack_web_openapi_v3.prism.json", "https://slack.com"),
    "jira": ("jira/jira-combined.prism.json", "https://your-domain.atlassian.net"),
}

#: (service, regex on the violation text) -> the reason it is the spec's gap, not the sandbox's
KNOWN_SPEC_GAPS: dict[tuple[str, str], str] = {
    ("pagerduty", r"channel: .* is valid under each of"):
        "Channel is a oneOf of subtypes that share every property and require none, so every channel "
        "object matches several of them: no value can satisfy it",
    ("pagerduty", r"incident/type: 'incident' is not one of \['incident_reference'\]"):
        "with include[]=incidents the API returns the full incident; the schema lists only the reference",
    ("pagerduty", r"type: 'acknowledge_log_entry' is not one of \['acknowledgement_log_entry'\]"):
        "the spec's own LogEntry enum says acknowledge_log_entry (as the API sends); its AcknowledgeLogEntry "
        "subtype misspells it acknowledgement_log_entry",
    ("pagerduty", r"type: 'status_update_log_entry' is not one of"):
        "the live API logs an incident's status updates as status_update_log_entry (with their message); "
        "the spec's LogEntry enum omits the type, and the spec has no other read of status updates",
    ("pagerduty", r"Unknown response http status: 5\d\d"):
        "the spec lists no 5xx responses, which the API does return (here: an injected fault)",
    ("slack", r"^error: '(internal_error|ratelimited)' is not one of"):
        "an injected fault's body: Slack's generic 5xx/429 errors are missing from most methods' error enums",
    ("slack", r"^messages: \[\] should be non-empty"):
        "a window with no messages: Slack answers messages: [] (a post read back after a lost answer, "
        "a quiet channel); the spec's schema says minItems 1",
    ("slack", r"^: Additional properties are not allowed \('response_metadata' was unexpected\)"):
        "conversations.history/replies page with response_metadata.next_cursor (Slack's pagination docs); "
        "the spec's success schemas forbid the key",
    ("jira", r"'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}' is not a 'date-time'"):
        "Jira writes times as 2025-12-30T01:00:00.000+0000 (no colon in the offset), which RFC 3339's date-time "
        "format the spec names does not allow; every Jira client parses it",
    ("jira", r"^MissingData: Missing response data"):
        "POST /issue/{key}/transitions (204) and POST /issueLink (201) answer with no body, as Jira does; the "
        "spec gives both an application/json content with an empty schema, so openapi-core expects a body",
    ("jira", r"^GET /rest/api/3/issue/[^/]+/remotelink: : \["):
        "GET remotelink without globalId returns a list of links (as the spec's own example shows); "
        "its schema describes one link",
}


def spec_path(service: str) -> Path:
    return SHARED / "api-mocks" / SPECS[service][0]


@lru_cache(maxsize=None)
def _api(service: str) -> Any:
    from openapi_core import OpenAPI
    from openapi_core.app import Config

    data = json.loads(spec_path(service).read_text())
    # the published PagerDuty spec has defaults of the wrong type, so skip validating the spec itself
    return OpenAPI.from_dict(data, config=Config(spec_validator_cls=None))


def _errors(exc: Exception) -> list[str]:
    """The innermost violations, one line each."""
    parts: list[str] = []
    for source in (exc, exc.__cause__):
        for err in getattr(source, "schema_errors", None) or []:
            for leaf in _leaves(err):
                parts.append(f"{'/'.join(map(str, leaf.absolute_path))}: {leaf.message[:240]}")
    if not parts:
        parts.append(f"{type(exc).__name__}: {str(exc)[:300]}" + (f" ({str(exc.__cause__)[:300]})" if exc.__cause__ else ""))
    return list(dict.fromkeys(parts))


def _leaves(err: Any) -> list[Any]:
    """The innermost errors of a jsonschema error; of a oneOf/anyOf, those of its closest branch."""
    context = list(getattr(err, "context", None) or [])
    if not context:
        return [err]
    if err.validator in ("oneOf", "anyOf"):
        branches: dict[Any, list[Any]] = {}
        for sub in context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        context = min(branches.values(), key=len)
    return [leaf for sub in context for leaf in _leaves(sub)]


def _args(query: str) -> Any:
    from werkzeug.datastructures import ImmutableMultiDict

    return ImmutableMultiDict(parse_qsl(query, keep_blank_values=True))


def check(exchanges: list[Any], *, requests: bool = True) -> list[str]:
    """Violations of the spec by these journal entries (the sandbox's ``world.journal``)."""
    from openapi_core.testing import MockRequest, MockResponse

    problems: list[str] = []
    for e in exchanges:
        if e.service not in SPECS or (e.fault or "").startswith("down"):
            continue
        api = _api(e.service)
        host = SPECS[e.service][1]
        ctype = e.request_headers.get("content-type", "").split(";")[0] or None
        req = MockRequest(host, e.method.lower(), e.path, args=_args(e.query), headers=e.request_headers,
                          data=e.request_body or None, content_type=ctype or "application/json")
        status = e.status
        if e.service == "slack" and status == 200 and (e.json() or {}).get("ok") is False:
            # Slack answers errors with HTTP 200 and {"ok": false}; the spec keeps their schema
            # under `default`, which a non-200 status selects
            status = 400
        resp = MockResponse(e.response_body, status_code=status, headers=e.response_headers,
                            content_type=e.response_headers.get("content-type", "application/json").split(";")[0])
        # status 0: the sandbox stopped before answering a request whose client had already given
        # up (a timeout): there is no response, only the request to check
        # a fault's own answer (a 500, a malformed 200) is not the sandbox's: only the request is checked
        injected = bool(e.fault) and e.fault != "slow"
        checks = ([("response", api.validate_response)] if e.status and not injected else []) + (
            [("request", api.validate_request)] if requests else [])
        for what, fn in checks:
            try:
                fn(req, resp) if what == "response" else fn(req)
            except Exception as exc:  # every openapi-core validation error
                left = [t for t in _errors(exc)
                        if not any(svc == e.service and (re.search(rx, t) or re.search(rx, f"{e.method} {e.path}: {t}"))
                                   for (svc, rx) in KNOWN_SPEC_GAPS)]
                if left:
                    problems.append(f"{e.service} {e.method} {e.path} -> {status} {what}: {' | '.join(left)[:1500]}")
    return problems

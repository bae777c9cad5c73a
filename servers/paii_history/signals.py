"""What an incident record holds beyond its words: the service it is about and its error signature.

Two incidents are alike when the same service fails the same way, more than when they share words:
"payments-api returning 500s" + "sqlalchemy.exc.TimeoutError: QueuePool limit reached" is the
payments-api connection-pool incident, not a user-profile-api incident that happens to say
"SQLAlchemy" and "pool timeout" (issue 23). The ranking (:mod:`paii_history.evidence`) reads:

* **service**: the services a text names, matched against the entry's ``service`` (and its
  ``dependencies`` where the record lists them). A text names a service when it holds one of the
  services the history knows, as a whole word (``payments-api``), or when the caller filters on one.
* **signature**: the kinds of failure a text shows: exception classes (``TimeoutError``,
  ``sqlalchemy.exc.TimeoutError``), HTTP status codes (``500``, ``503``, ``5xx``), and error texts
  mapped to a named failure (``QueuePool limit ... reached``, ``too many connections`` and
  "connection pool exhaustion" are all ``db-pool-exhausted``). Shared signatures are evidence that the
  same thing broke, whatever words each write-up chose.

Pure functions over text; nothing here touches the disk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from paii_history.text import fold

#: Error texts and the failure they name. Patterns are matched on the folded text (lower case, no
#: accents), so an alert's wording and a post-mortem's both land on the same name. English first;
#: a few Spanish forms, as teams write notes in their own language.
FAILURES: tuple[tuple[str, str], ...] = (
    ("db-pool-exhausted", r"queuepool limit|pool (?:is )?(?:exhausted|ran dry|limit)|connection pool (?:exhaust|limit|timeout|full)"
                          r"|pool exhaustion|too many (?:db |database )?connections|remaining connection slots|hikaripool.*not available"
                          r"|pool timeout|pool de conexiones (?:agotado|lleno)|agotamiento del pool|连接池耗尽|连接池"),
    ("timeout", r"timed? ?out|timeouterror|deadline exceeded|request timeout|tiempo de espera|超时"),
    ("conn-refused", r"connection refused|econnrefused|conexion rechazada"),
    ("oom", r"out ?of ?memory|oomkill|oom-kill|outofmemoryerror|memory pressure|sin memoria|内存不足"),
    ("disk-full", r"no space left|disk (?:is )?full|disk pressure|disco lleno|磁盘已满"),
    ("cert-expired", r"certificate (?:has )?expired|x509|cert(?:ificate)? expir|ssl handshake|certificado (?:caducado|expirado)"),
    ("dns", r"dns resolution|nxdomain|could not resolve|name resolution|coredns"),
    ("crashloop", r"crashloopbackoff|back-off restarting"),
    ("cache-expiry", r"cache (?:expired|miss|stampede)|keys expired|ttl expir"),
    ("rate-limited", r"rate limit|too many requests|429"),
    ("cpu-throttling", r"cpu throttl|throttled cpu|cpu limit"),
    ("replication-lag", r"replication lag|replica lag|consumer lag|lagging"),
    ("deadlock", r"deadlock|lock wait timeout"),
)
_FAILURES = [(name, re.compile(pat)) for name, pat in FAILURES]
#: Exception and error class names: CamelCase words ending in Error or Exception (NullPointerException,
#: sqlalchemy.exc.TimeoutError -> TimeoutError), and Go/Python-style lowercase ones are words already.
_EXCEPTION = re.compile(r"\b([A-Z][A-Za-z0-9]*(?:Error|Exception|Exhausted|Timeout|Failure))\b")
#: HTTP status codes as incidents mention them: a 5xx or 4xx number next to a word that says so, or
#: "500s", "HTTP 503", "5xx". A bare number is not a status (pool 50, p99 300ms).
_STATUS = re.compile(r"(?:\bhttp[ /]?|\bstatus[ :]?|\berror[ :]?|\breturn(?:ing|ed|s)? |\b)([45]\d\d|[45]xx)(?:s\b|\b(?=[ /,.;:)]|$))",
                     re.I)


def signature(text: str) -> frozenset[str]:
    """The failure kinds a text shows: ``exc:<Class>``, ``http:<code>`` and ``http:5xx``/``4xx``, and
    the named failures of FAILURES (``db-pool-exhausted``, ``oom``...)."""
    out: set[str] = set()
    for m in _EXCEPTION.finditer(text):
        name = m.group(1)
        if name not in ("Error", "Exception"):
            out.add(f"exc:{name}")
    folded = fold(text)
    for m in _STATUS.finditer(folded):
        code = m.group(1).lower()
        if code[1:] == "xx":
            out.add(f"http:{code}")
            continue
        if not _status_context(folded, m):
            continue
        out.add(f"http:{code}")
        out.add(f"http:{code[0]}xx")
    for name, pat in _FAILURES:
        if pat.search(folded):
            out.add(name)
    return frozenset(out)


def _status_context(folded: str, m: re.Match) -> bool:
    """A 3-digit number is a status code when a word around it says so (500s, HTTP 500, 500 errors,
    returned 503, 504/500), not when it is a count or a size (pool 50 -> 100, p99 300ms)."""
    before = folded[max(0, m.start() - 24) : m.start()]
    after = folded[m.end(1) : m.end(1) + 12]
    if after.startswith("s") or re.match(r"\s*(?:errors?|error|responses?|status|codes?|/[45]\d\d)", after):
        return True
    return bool(re.search(r"(?:http|status|error|errors|return\w*|respond\w*|code|with a|/)\s*$", before))


def services_named(text: str, known: Iterable[str]) -> set[str]:
    """The services of ``known`` (lower case) that ``text`` names as a whole word (payments-api, not
    payments-api-v2 or my-payments-api)."""
    folded = fold(text)
    out = set()
    for svc in known:
        if svc and svc in folded and re.search(rf"(?<![\w-]){re.escape(svc)}(?![\w-])", folded):
            out.add(svc)
    return out


def service_relation(named: set[str], service: str | None, dependencies: Iterable[str] = ()) -> float:
    """1 when the entry is about a service the text names, 0.5 when the entry's service depends on one
    it names (or the reverse, where the record lists its dependencies), -1 when the text names
    services and the entry is about another one, 0 when either side names none."""
    if not named or not service:
        return 0.0
    svc = service.lower()
    if svc in named:
        return 1.0
    if named & {d.lower() for d in dependencies if isinstance(d, str)}:
        return 0.5
    return -1.0


def shared_signature(query: frozenset[str], entry: frozenset[str]) -> float:
    """How much of the text's error signature the entry shows, 0-1: named failures and exception
    classes count fully, a status code a third (many incidents are 500s: a shared 500 alone is 1/3),
    its class (5xx) only when the text gives no code."""
    query = {s for s in query if not (s.endswith("xx") and any(q[:6] == s[:6] and q != s for q in query))}
    if not query:
        return 0.0

    def weight(s: str) -> float:
        return 1 / 3 if s.startswith("http:") else 1.0

    total = sum(weight(s) for s in query)
    return sum(weight(s) for s in query if s in entry) / max(total, 1.0)

"""Built-in diagnostics whose arguments are checked one by one: they cannot reach beyond the pod.

``exec_in_pod`` runs without asking (the commands pre-approve it as a read), so an allowlisted
program must not become a way out: ``pg_isready -h attacker.example.com`` is an outbound
connection (and a DNS lookup) from a production pod, ``df -h /etc/shadow`` a probe of any path.
Each diagnostic here reads its argv as the program would (getopt: ``-h x``, ``-hx``, bundled
``-qhx``, ``--host=x``, ``--host x``) and accepts only:

``pg_isready``
    ``-h/--host`` only the pod's own database: localhost, 127.0.0.1, ::1, a local socket folder,
    or a host the pod's plain env values name (``PGHOST``, ``DB_HOST``-like names, a
    ``postgres://`` URL); ``-p/--port`` only 5432 or a port those values name; ``-t`` seconds,
    ``-U`` a user name, ``-d`` a database *name* (a connection string or URL is refused: it could
    hold another host), ``-q``, ``-V``. Without ``-h`` it checks what the pod's PGHOST points to.
``df``
    display flags (``-h -H -k -i -T -P -l -a``, ``--total``...) and paths on the data and log
    volumes only (see :data:`DF_PATHS`).

Anything else (another option, ``--``, a positional argument) is refused with what is allowed.
Other allowlist entries are matched token by token (:func:`paii_kubernetes.policy.matching_entry`).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "/var/run/postgresql", "/run/postgresql", "/tmp"})
DEFAULT_PORTS = frozenset({"5432"})
_DB_HOST_NAME = re.compile(r"^(?:PGHOST|PGHOSTADDR|(?:[A-Z0-9]+_)*(?:DB|DATABASE|POSTGRES|POSTGRESQL|PG)_?HOST(?:NAME|ADDR)?)$")
_DB_PORT_NAME = re.compile(r"^(?:PGPORT|(?:[A-Z0-9]+_)*(?:DB|DATABASE|POSTGRES|POSTGRESQL|PG)_?PORT)$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$|^[0-9a-fA-F:.]{2,45}$")
_PORT = re.compile(r"^\d{1,5}$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.$-]{0,62}$")
_PATH = re.compile(r"^/[A-Za-z0-9_./@+-]*$")
#: where df may look: the root, scratch space, and the data and log volumes under these folders
DF_PATHS = ("/", "/tmp", "/dev/shm")
DF_TREES = ("/var/lib/postgresql", "/var/lib/mysql", "/var/lib/redis", "/var/lib/mongodb", "/var/log", "/data")


class Refused(ValueError):
    """The argument is not allowed; the message says what is."""


@dataclass(frozen=True)
class Targets:
    """Where the pod's own database is: hosts (lowercase) and ports a diagnostic may name."""

    hosts: frozenset[str] = LOCAL_HOSTS
    ports: frozenset[str] = DEFAULT_PORTS
    from_pod: tuple[str, ...] = field(default=())  # where the extra ones came from, for messages

    def describe(self) -> str:
        extra = sorted(self.hosts - LOCAL_HOSTS)
        pod = f"this pod's env names {', '.join(extra)}" if extra else "this pod's plain env values name no database host"
        return (f"hosts localhost, 127.0.0.1, ::1 or a socket folder (/var/run/postgresql, /tmp); {pod}; "
                f"ports {', '.join(sorted(self.ports))}")


def _host_key(host: str) -> str:
    return host.strip().rstrip(".").lower().strip("[]")


def targets_of(pod: Mapping) -> Targets:
    """The pod's own database from its containers' plain env values (a Secret's value is never read)."""
    hosts, ports, names = set(LOCAL_HOSTS), set(DEFAULT_PORTS), []
    spec = pod.get("spec") or {}
    for c in spec.get("containers") or []:
        for e in c.get("env") or []:
            name, value = str(e.get("name") or ""), e.get("value")
            if not isinstance(value, str) or not value.strip() or "$(" in value:
                continue
            value = value.strip()
            if _DB_HOST_NAME.match(name):
                found = [_host_key(h) for h in value.split(",") if h.strip()]
                hosts.update(found)
                names.append(name)
            elif _DB_PORT_NAME.match(name):
                ports.update(p.strip() for p in value.split(",") if _PORT.match(p.strip()))
                names.append(name)
            elif value.lower().startswith(("postgres://", "postgresql://")):
                h, p = _url_targets(value)
                hosts.update(h)
                ports.update(p)
                names.append(name)
    return Targets(frozenset(hosts), frozenset(ports), tuple(names))


def _url_targets(url: str) -> tuple[set[str], set[str]]:
    """Hosts and ports of a libpq URL, multi-host form included (postgresql://a:5432,b:5433/db)."""
    netloc = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    hosts, ports = set(), set()
    for part in netloc.split(","):
        try:
            parsed = urlsplit(f"//{part}")
            host, port = parsed.hostname, parsed.port
        except ValueError:
            continue
        if host:
            hosts.add(_host_key(host))
        if port:
            ports.add(str(port))
    return hosts, ports


@dataclass(frozen=True)
class Option:
    names: tuple[str, ...]  # "-h", "--host"
    value: Callable[[str, Callable[[], Targets]], None] | None = None  # checks the value; None: a flag


def _getopt(program: str, args: list[str], options: Iterable[Option]) -> tuple[list[tuple[Option, str | None, str]], list[str]]:
    """(option, value, as written) and positional arguments, as GNU getopt_long reads them
    (abbreviated long options are not accepted here: write them in full)."""
    by_name = {n: o for o in options for n in o.names}
    found, positional, i = [], [], 0
    while i < len(args):
        a = args[i]
        if a == "--":
            raise Refused(f"{program}: '--' is not accepted (it would end the options and pass the rest through)")
        if a.startswith("--"):
            name, eq, val = a.partition("=")
            opt = by_name.get(name)
            if opt is None:
                raise Refused(f"{program}: option {name} is not allowed")
            if opt.value is None:
                if eq:
                    raise Refused(f"{program}: {name} takes no value")
                found.append((opt, None, a))
            else:
                if not eq:
                    if i + 1 >= len(args):
                        raise Refused(f"{program}: {name} needs a value")
                    i += 1
                    val = args[i]
                found.append((opt, val, a))
        elif a.startswith("-") and len(a) > 1:
            j = 1
            while j < len(a):
                name = "-" + a[j]
                opt = by_name.get(name)
                if opt is None:
                    raise Refused(f"{program}: option {name} is not allowed")
                if opt.value is None:
                    found.append((opt, None, name))
                    j += 1
                    continue
                val = a[j + 1:]
                if not val:
                    if i + 1 >= len(args):
                        raise Refused(f"{program}: {name} needs a value")
                    i += 1
                    val = args[i]
                found.append((opt, val, name))
                break
        else:
            positional.append(a)
        i += 1
    return found, positional


def _host(value: str, targets: Callable[[], Targets]) -> None:
    for host in value.split(","):
        key = _host_key(host)
        if key in LOCAL_HOSTS:
            continue
        if not _HOSTNAME.match(key) and not key.startswith("/"):
            raise Refused(f"pg_isready: {host!r} is not a host name")
        t = targets()
        if key not in t.hosts:
            raise Refused(f"pg_isready: host {host!r} is not this pod's database (an outbound connection from a "
                          f"production pod is a way out); allowed: {t.describe()}")


def _port(value: str, targets: Callable[[], Targets]) -> None:
    for port in value.split(","):
        if not _PORT.match(port.strip()):
            raise Refused(f"pg_isready: port {port!r} is not a number")
        if port.strip() not in DEFAULT_PORTS:
            t = targets()
            if port.strip() not in t.ports:
                raise Refused(f"pg_isready: port {port} is not this pod's database port; allowed: {t.describe()}")


def _seconds(value: str, _targets: Callable[[], Targets]) -> None:
    if not value.isdigit() or int(value) > 60:
        raise Refused(f"pg_isready: -t takes whole seconds up to 60, not {value!r}")


def _user(value: str, _targets: Callable[[], Targets]) -> None:
    if not _NAME.match(value):
        raise Refused(f"pg_isready: user {value!r} is not a plain role name")


def _dbname(value: str, _targets: Callable[[], Targets]) -> None:
    if "=" in value or "://" in value or not _NAME.match(value):
        raise Refused(f"pg_isready: -d {value[:60]!r} is not a plain database name (a connection string or URL could "
                      "name another host or a service file); give the host with -h and the port with -p")


PG_ISREADY = (Option(("-h", "--host"), _host), Option(("-p", "--port"), _port), Option(("-t", "--timeout"), _seconds),
              Option(("-U", "--username"), _user), Option(("-d", "--dbname"), _dbname), Option(("-q", "--quiet")),
              Option(("-V", "--version")), Option(("-?", "--help")))
DF = (Option(("-h", "--human-readable")), Option(("-H", "--si")), Option(("-k",)), Option(("-i", "--inodes")),
      Option(("-T", "--print-type")), Option(("-P", "--portability")), Option(("-l", "--local")), Option(("-a", "--all")),
      Option(("--total",)))


def _df_path(path: str) -> None:
    norm = posixpath.normpath(path)
    if not _PATH.match(path) or ".." in path.split("/") or norm.startswith("//"):
        raise Refused(f"df: {path!r} is not a plain absolute path")
    if norm in DF_PATHS or any(norm == t or norm.startswith(t + "/") for t in DF_TREES):
        return
    raise Refused(f"df: {path!r} is not a data or log volume; df looks at {', '.join(DF_PATHS)} and under "
                  f"{', '.join(DF_TREES)}")


USAGE = {
    "pg_isready": "pg_isready [-h HOST] [-p PORT] [-t SECONDS] [-U USER] [-d DBNAME] [-q] (HOST and PORT: the pod's own database)",
    "df": f"df [-h|-H|-k|-i|-T|-P|-l|-a|--total] [PATH: {', '.join(DF_PATHS)} or under {', '.join(DF_TREES)}]",
}


def check(argv: list[str], targets: Callable[[], Targets]) -> str | None:
    """The usage line of the built-in diagnostic ``argv`` satisfies; None when argv[0] is not one;
    Refused (saying what is allowed) when an argument is not allowed. ``targets`` is called only
    when a host or port needs the pod's own database (it reads the pod)."""
    program = argv[0] if argv else ""
    if program not in USAGE:
        return None
    try:
        if program == "pg_isready":
            found, positional = _getopt(program, argv[1:], PG_ISREADY)
            if positional:
                raise Refused(f"pg_isready: {positional[0]!r} is not an option; pg_isready takes only options")
            for opt, value, _ in found:
                if opt.value is not None and value is not None:
                    opt.value(value, targets)
        else:
            _, positional = _getopt(program, argv[1:], DF)
            for path in positional:
                _df_path(path)
    except Refused as exc:
        raise Refused(f"{exc}. Usage: {USAGE[program]}") from None
    return USAGE[program]

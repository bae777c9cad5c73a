"""The sandbox's ``psql`` (copied to ``<sandbox>/bin/psql``, which PAII_RUNBOOK_BIN_DIRS puts first).

It maps host names only: ``psql -h primary-postgres ...`` reaches the sandbox's real server of
that name (``pair.json`` beside it: ``PGHOSTADDR`` and ``PGPORT`` are set, the arguments stay as
they are, a ``-p`` given with such a host is dropped) and any other host is left alone, so the
same runbook runs against a team's real hosts. Without a real pair (``standin.json``) the
arguments go to the sandbox's stand-in (services/_postgres_sql.py) over HTTP. Standard library
only; started with ``python -S``.
"""

import json
import os
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VALUE = set("cdfFhLopPRTUv")  # psql's short options that take a value


def host_of(argv):
    """(the host psql will connect to, argv without its -p/--port)."""
    host, rest, i = os.environ.get("PGHOST"), [], 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("--"):
            key, eq, val = a.partition("=")
            if key in ("--host", "--port"):
                if not eq:
                    i += 1
                    val = argv[i] if i < len(argv) else ""
                if key == "--host":
                    host = val
                    rest.append("--host=" + val)
            else:
                rest.append(a)
            i += 1
            continue
        if not a.startswith("-") or len(a) == 1:
            rest.append(a)
            i += 1
            continue
        for j, ch in enumerate(a[1:], 1):  # a cluster of flags, maybe ending in an option and its value
            if ch not in VALUE:
                continue
            taken = j + 1 == len(a)
            val = (argv[i + 1] if i + 1 < len(argv) else "") if taken else a[j + 1:]
            if ch == "h":
                host = val
            if ch == "p":
                if j > 1:
                    rest.append(a[:j])
            else:
                rest += [a, val] if taken else [a]
            i += 2 if taken else 1
            break
        else:
            rest.append(a)
            i += 1
    return host, rest


def standin(argv):
    with open(os.path.join(HERE, "standin.json")) as f:
        cfg = json.load(f)
    env = {k: os.environ[k] for k in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE") if k in os.environ}
    body = json.dumps({"argv": argv, "env": env}).encode()
    head = (f"POST {cfg['path']} HTTP/1.1\r\nHost: {cfg['host']}:{cfg['port']}\r\nAuthorization: Bearer {cfg['token']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    try:
        with socket.create_connection((cfg["host"], cfg["port"]), timeout=30) as conn:
            conn.sendall(head.encode() + body)
            raw = b"".join(iter(lambda: conn.recv(65536), b""))
        out = json.loads(raw.partition(b"\r\n\r\n")[2] or b"{}")
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"psql: error: cannot reach the sandbox at {cfg['host']}:{cfg['port']}: {exc}\n")
        return 2
    sys.stdout.write(out.get("stdout", ""))
    sys.stderr.write(out.get("stderr", ""))
    return int(out.get("exit_code", 1))


def main(argv):
    try:
        with open(os.path.join(HERE, "pair.json")) as f:
            pair = json.load(f)
    except (OSError, ValueError):
        pair = None
    if pair is None:
        if os.path.exists(os.path.join(HERE, "standin.json")):
            return standin(argv)
        sys.stderr.write("psql: error: the PAII sandbox is not running (start it: paii sandbox start --detach)\n")
        return 2
    host, rest = host_of(argv)
    target = pair["hosts"].get(host or "")
    env = dict(os.environ)
    if target is not None:
        env.update(PGHOSTADDR=target["host"], PGPORT=str(target["port"]))
        argv = rest
    os.execve(pair["psql"], [pair["psql"], *argv], env)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

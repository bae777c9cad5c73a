"""PAII's local usage log: ``<PAII data>/usage/usage.jsonl``, one JSON object a line, append-only,
rotated by size (``usage.1.jsonl`` is the previous file, up to ``usage.<KEEP>.jsonl``).

Every record has ``v`` (1), ``t`` (UTC time, ISO 8601), ``session`` (Claude Code's session id)
and ``event``; then, by event:

- ``tool``: ``server``, ``tool``, ``ok`` (false when the call failed), ``ms`` (its duration),
  ``modes``: the mode switches the call gave explicitly, e.g. {"dry_run": true} (the
  only argument values kept: booleans named in :data:`MODES`), and ``refused`` (true) when
  the call stopped at the person's approval (a runbook step or a scale waiting for their yes,
  or declined): not a failure, the gate working; told from the error's words (:data:`REFUSED`);
- ``skill``: ``skill`` (a PAII skill or command run through the Skill tool), ``ok``;
- ``prompt``: ``command`` (when the request is a /paii: command), ``mentions`` (service ->
  count) and ``topics`` (kind of request -> count), counted, never the text;
- ``session_end``: ``reason``.

Never arguments, results or prompt text: they can hold secrets. servers/paii_history/usage.py
reads this format (tests/history/test_usage_report.py checks both agree).
"""

import json
import os
import re
import time

MAX_BYTES = 1024 * 1024
KEEP = 5
#: boolean tool arguments whose value the log keeps (no other argument is ever kept)
MODES = ("dry_run",)
#: what PAII's servers say when a call stops at the person's approval (runbook steps, scaling)
REFUSED = re.compile(r"needs the person's approval|the person declined|the person did not approve|"
                     r"this session cannot show prompts|support MCP elicitation")


def folder(data):
    return os.path.join(data, "usage")


def now_iso():
    """The record's time: the sandbox's clock when ``PAII_NOW`` sets one (moving on from it when
    ``PAII_NOW_SINCE`` gives the Unix time it was set at), as the servers read it; else the real clock."""
    fixed = (os.environ.get("PAII_NOW") or "").strip()
    if not fixed or "${" in fixed:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    import calendar

    try:
        start = calendar.timegm(time.strptime(fixed.replace("+00:00", "Z")[:19] + "Z", "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    try:
        start += max(0.0, time.time() - float(os.environ["PAII_NOW_SINCE"]))
    except (KeyError, ValueError):
        pass
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start))


def _int_setting(name, default, low):
    try:
        return max(low, int(os.environ.get(name, default)))
    except ValueError:
        return default


def append(data, record):
    """Add one record (rotating first when the file is full). Returns the log's path."""
    base = folder(data)
    os.makedirs(base, mode=0o700, exist_ok=True)
    path = os.path.join(base, "usage.jsonl")
    line = (json.dumps(dict({"v": 1, "t": now_iso()}, **record), separators=(",", ":"), ensure_ascii=False) + "\n").encode()
    max_bytes = _int_setting("PAII_USAGE_MAX_BYTES", MAX_BYTES, 512)
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0
    if size + len(line) > max_bytes:
        rotate(base, _int_setting("PAII_USAGE_KEEP", KEEP, 1), max_bytes - len(line))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)  # one write of one line: appends from several sessions do not interleave
    finally:
        os.close(fd)
    return path


def rotate(base, keep, room=0):
    """usage.jsonl -> usage.1.jsonl -> ... -> usage.<keep>.jsonl (the oldest is dropped), under a lock;
    nothing when the file has ``room`` bytes or less (another session rotated it meanwhile)."""
    lock = None
    try:
        import fcntl

        lock = os.open(os.path.join(base, ".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
        fcntl.flock(lock, fcntl.LOCK_EX)
    except (ImportError, OSError):
        pass
    try:
        path = os.path.join(base, "usage.jsonl")
        try:
            if os.path.getsize(path) <= room:
                return
        except OSError:
            return
        for k in range(keep - 1, 0, -1):
            older = os.path.join(base, "usage.%d.jsonl" % k)
            if os.path.exists(older):
                os.replace(older, os.path.join(base, "usage.%d.jsonl" % (k + 1)))
        os.replace(path, os.path.join(base, "usage.1.jsonl"))
        for extra in os.listdir(base):
            parts = extra.split(".")
            if len(parts) == 3 and parts[0] == "usage" and parts[1].isdigit() and int(parts[1]) > keep:
                os.unlink(os.path.join(base, extra))
    finally:
        if lock is not None:
            os.close(lock)


def read_session(data, session, limit=8 * 1024 * 1024):
    """The records of one session, oldest first, from the current and rotated files."""
    base = folder(data)
    names = sorted((n for n in _names(base)), key=lambda n: -_index(n))
    out, read = [], 0
    for name in names:
        try:
            with open(os.path.join(base, name), "rb") as fh:
                blob = fh.read(max(0, limit - read))
        except OSError:
            continue
        read += len(blob)
        for line in blob.splitlines():
            if session.encode() not in line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and rec.get("session") == session:
                out.append(rec)
    return out


def _names(base):
    try:
        return [n for n in os.listdir(base) if n.startswith("usage") and n.endswith(".jsonl")]
    except OSError:
        return []


def _index(name):
    parts = name.split(".")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else 0

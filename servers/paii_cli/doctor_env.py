"""``paii doctor``'s local findings: the data home, ``paii`` in one's own terminal, the kubeconfig,
and setting values that are wrong (each named, with how to fix it). Nothing here uses the network.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from paii_common.config import is_set


# ------------------------------------------------------------------------------- the data home
def count_entries(folder: Path) -> int:
    """Markdown entries under ``folder`` (hidden folders such as ``.git`` left out); no index or model is loaded."""
    n = 0
    stack = [folder]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    if entry.name.startswith("."):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    elif entry.name.endswith(".md"):
                        n += 1
        except OSError:
            continue
    return n


def data_home() -> dict[str, Any]:
    """Where PAII keeps history, runbooks and runs for the CLI and every server, and how many
    history entries it holds."""
    from paii_common.config import paii_home

    home = paii_home()
    history = home / "history"
    return {"path": str(home), "exists": home.is_dir(), "from": "PAII_HOME" if is_set(os.environ.get("PAII_HOME")) else "default",
            "history_entries": count_entries(history) if history.is_dir() else 0}


def render_data_home(d: dict[str, Any]) -> list[str]:
    where = "PAII_HOME" if d["from"] == "PAII_HOME" else "the default; set PAII_HOME to use another folder"
    if not d["exists"]:
        return [f"· data home: {d['path']} ({where}): not created yet; `paii history import FILE` or the first "
                "remembered incident creates it"]
    n = d["history_entries"]
    return [f"· data home: {d['path']} ({where}): history holds {n} entr{'y' if n == 1 else 'ies'}"]


# ------------------------------------------------------------------------------- paii in one's terminal
def launcher_report(env: dict[str, str] | None = None) -> dict[str, Any] | None:
    """With ``PAII_LAUNCHER`` (set by the plugin's ``bin/paii``): whether the person's own terminal
    has the same ``paii`` (a link in ~/.local/bin) and, if not, the lines that give it to them."""
    env = dict(os.environ) if env is None else env
    launcher = env.get("PAII_LAUNCHER")
    if not is_set(launcher):
        return None
    target = Path(launcher).expanduser()
    bindir = Path.home() / ".local" / "bin"
    link = bindir / "paii"
    on_path = any(Path(p).expanduser() == bindir for p in env.get("PATH", "").split(os.pathsep) if p)
    if link.is_symlink() and not link.exists():
        state = "stale"  # e.g. it pointed at an older version of the plugin
    elif link.exists() and _same(link, target):
        state = "linked"
    elif link.exists() or link.is_symlink():
        state = "other"
    else:
        state = "missing"
    quoted = shlex.quote(str(target))
    report: dict[str, Any] = {"launcher": str(target), "link": str(link), "state": state, "on_path": on_path,
                              "commands": [], "alias": f"alias paii={quoted}"}
    if state != "linked":
        report["commands"].append(f"mkdir -p ~/.local/bin && ln -sfn {quoted} ~/.local/bin/paii")
    if not on_path:
        shell = Path(env.get("SHELL", "bash")).name
        rc = {"zsh": "~/.zshrc", "fish": None}.get(shell, "~/.bashrc")
        report["commands"].append(f"echo 'export PATH=\"$HOME/.local/bin:$PATH\"' >> {rc}" if rc else
                                  "fish_add_path ~/.local/bin")
    return report


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def render_launcher(r: dict[str, Any] | None) -> list[str]:
    if r is None:
        return []
    if r["state"] == "linked" and r["on_path"]:
        return [f"✓ paii in your own terminal: {r['link']} -> {r['launcher']}"]
    head = {
        "linked": f"· paii in your own terminal: {r['link']} links to this plugin, but ~/.local/bin is not on your PATH:",
        "stale": f"! paii in your own terminal: {r['link']} points at a PAII that is gone (an older plugin version?); "
                 "link it again:",
        "other": f"· paii in your own terminal: {r['link']} is another paii (a checkout's or pip's); to use this plugin's "
                 "instead:",
        "missing": "· paii in your own terminal: this `paii` is the plugin's; to run the same one in your terminal:",
    }[r["state"]]
    lines = [head] + [f"      {c}" for c in r["commands"]]
    lines.append(f"    or add this line to your shell's rc file: {r['alias']}")
    lines.append("    (the plugin's folder changes when it updates: `paii doctor` says so when the link is stale)")
    return lines


# ------------------------------------------------------------------------------- the kubeconfig
def kubeconfig_checks(settings: Any) -> list[dict[str, Any]]:
    """The kubeconfig file(s) exist and hold the context in use (read with yaml; no kubernetes import)."""
    path = settings.kubeconfig_path()
    if not path:
        if is_set(os.environ.get("KUBERNETES_SERVICE_HOST")):
            return [{"check": "kubeconfig", "ok": True, "detail": "none: the in-cluster service account is used"}]
        return []
    files = [f for f in path.split(os.pathsep) if f]
    present = [f for f in files if Path(f).is_file()]
    var = "PAII_KUBERNETES_KUBECONFIG" if is_set(os.environ.get("PAII_KUBERNETES_KUBECONFIG")) else (
        "KUBECONFIG" if is_set(os.environ.get("KUBECONFIG")) else "PAII_KUBERNETES_KUBECONFIG (.env)")
    if not present:
        return [{"check": "kubeconfig", "ok": False, "problem": "kubeconfig", "setting": "kubeconfig",
                 "detail": f"kubeconfig missing: {path} does not exist ({var}). Point {var} at your kubeconfig "
                           "(or unset it to use ~/.kube/config)"}]
    contexts, current = _contexts(present)
    if contexts is None:
        return [{"check": "kubeconfig", "ok": False, "problem": "kubeconfig", "setting": "kubeconfig",
                 "detail": f"kubeconfig unreadable: {', '.join(present)} is not a kubeconfig (YAML with contexts). "
                           f"Check {var}"}]
    wanted = (settings.context or "").strip() or current
    names = ", ".join(contexts) or "none"
    if not wanted:
        return [{"check": "kubeconfig", "ok": False, "problem": "context unknown", "setting": "kubeconfig",
                 "detail": f"{', '.join(present)} has no current-context: set PAII_KUBERNETES_CONTEXT to one of {names}"}]
    if wanted not in contexts:
        source = "PAII_KUBERNETES_CONTEXT" if settings.context else "the kubeconfig's current-context"
        return [{"check": "kubeconfig", "ok": False, "problem": "context unknown",
                 "setting": "context" if settings.context else "kubeconfig",
                 "detail": f"context unknown: {wanted!r} ({source}) is not in {', '.join(present)}; its contexts: {names}. "
                           "Set PAII_KUBERNETES_CONTEXT to one of them"}]
    detail = f"{', '.join(present)}: context {wanted}"
    gone = [f for f in files if f not in present]
    out = {"check": "kubeconfig", "ok": True, "detail": detail}
    if gone:
        out |= {"warning": True, "detail": detail + f" ({', '.join(gone)} does not exist and is skipped)"}
    return [out]


def _contexts(files: list[str]) -> tuple[list[str] | None, str | None]:
    """Every context name in the files, and the current-context (the first file that sets one wins, as kubectl)."""
    import yaml

    names: list[str] = []
    current = None
    for f in files:
        try:
            data = yaml.safe_load(Path(f).read_text(encoding="utf-8", errors="replace"))
        except (OSError, yaml.YAMLError):
            return None, None
        if not isinstance(data, dict):
            return None, None
        for c in data.get("contexts") or []:
            if isinstance(c, dict) and c.get("name"):
                names.append(str(c["name"]))
        current = current or (str(data["current-context"]) if data.get("current-context") else None)
    return names, current


# ------------------------------------------------------------------------------- values that are wrong
def invalid_fields(exc: Exception) -> list[tuple[str, str]]:
    """(field or variable, what is wrong) for each value a settings model refused; never the value."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        variable = getattr(exc, "variable", None)
        return [(variable, str(exc))] if variable else []
    out = []
    for err in errors():
        loc = err.get("loc") or ("?",)
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        out.append((str(loc[0]), msg))
    return out


def is_url(entry: Any) -> bool:
    return entry.type == "url" or entry.key == "url" or entry.key.endswith("_url")


def value_problem(entry: Any, var: str | None, source: str | None, env: dict[str, str], dotenv: dict[str, str],
                  refused: dict[str, str], prefix: str) -> str | None:
    """Why the value of one setting is wrong, with how to fix it; None when it is fine or not set."""
    if var is None:
        return None
    value = env.get(var) if source == "environment" else dotenv.get(var)
    names = {entry.key, *entry.env_names(), f"{prefix}{entry.key.upper()}"}
    reason = next((msg for field, msg in refused.items() if field in names), None)
    if reason is None and is_url(entry) and value is not None:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            reason = "it is not a URL (it needs http:// or https:// and a host name)"
    if reason is None:
        return None
    reason = reason.removeprefix(f"{var} ")
    where = "the .env file" if source == ".env" else "the environment"
    shown = "" if entry.secret or value is None else f"={value.strip()[:80]!r}"
    fix = f"Fix it in {where}"
    if is_url(entry):
        example = entry.default if isinstance(entry.default, str) and entry.default.startswith("http") else "https://host.example.com"
        fix += f": a full URL such as {example}" + (", or unset it for that default" if entry.default else "")
    return f"{var}{shown} ({source}) is not valid: {reason}. {fix}"

"""``paii plugin new`` in a plugin install: a Claude Code plugin of the person's own.

An installed PAII plugin lives in Claude Code's plugin cache, which an update replaces, so new
code cannot go there. It goes in the person's plugins folder (``~/.config/paii/plugins``, see
:func:`paii_common.manifest.user_plugins_dir`), which is also a small Claude Code marketplace,
``paii-local``::

    ~/.config/paii/plugins/
      .claude-plugin/marketplace.json     paii-local: one entry per plugin, "source": "./NAME"
      NAME/                               the plugin paii-NAME
        .claude-plugin/plugin.json        identity and userConfig (the service's settings)
        .mcp.json                         python3 ${CLAUDE_PLUGIN_ROOT}/bin/paii-server NAME
        bin/paii-server                   stdlib: runs the server with PAII's code and Python
        servers/paii_NAME/                the server, the same files as in a PAII checkout
        tests/                            its tests, conftest and tools/list snapshot
        skills/NAME/SKILL.md              when to use it
        README.md                         what to do next

``claude plugin marketplace add ~/.config/paii/plugins`` then ``claude plugin install
paii-NAME@paii-local`` installs it. ``paii doctor`` and ``paii plugin list`` show its server with
PAII's (``paii_common.manifest.server_names``). A skill becomes a plugin with the skill and its
command (``/paii-NAME:COMMAND``).
"""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path

import paii_cli.scaffold as core
from paii_cli.scaffold import INTEGRATION_NAME, RESERVED, SKILL_NAME, Plan, _plan_skill, _test_py, check_service, render
from paii_common.errors import InvalidInput

MARKETPLACE = "paii-local"
LAUNCHER = "paii-server"


def plugin_name(name: str) -> str:
    return f"paii-{name}"


def plan(root: Path, raw_name: str, kind: str, *, service: str | None = None, command: str | None = None,
         description: str | None = None) -> Plan:
    """Every file of the person's new plugin under ``root`` (their plugins folder) and the marketplace entry."""
    paii = core.own_root()
    name = _check_name(root, paii, raw_name, kind)
    if kind == "skill":
        inner = _plan_skill(paii, name, command, description)  # the skill's files, as in a checkout
        p = Plan(root=root, name=name, kind="skill", mode="user", project=name, paii_root=paii, notes=inner.notes)
        p.create = {f"{name}/{rel}": text for rel, text in inner.create.items()}
        cmd = next(rel for rel in inner.create if rel.startswith("commands/")).removeprefix("commands/").removesuffix(".md")
        p.notes = [f"the command is /{plugin_name(name)}:{cmd} (a skill and a command must not share a name; --command sets it)"]
        what = (description or f"{name.replace('-', ' ')} with the person, building on PAII's history").split(". ")[0]
        p.create[f"{name}/.claude-plugin/plugin.json"] = _json(_manifest(name, what[:200], {}))
    else:
        svc = check_service(paii, name, service)
        p = Plan(root=root, name=name, kind="integration", service=svc, mode="user", project=name, paii_root=paii)
        cls = render.class_name(svc)
        values = dict(name=name, title=svc.title, what=svc.what, cls=cls, port=core._next_port(paii))
        pkg = f"{name}/servers/paii_{name}"
        p.create.update(core.server_files(pkg, name, svc, values))
        p.create[f"{name}/tests/__init__.py"] = ""
        p.create[f"{name}/tests/conftest.py"] = render.template("user_conftest.py", name=name, paii_root_repr=repr(str(paii)))
        p.create[f"{name}/pytest.ini"] = PYTEST_INI
        p.create[f"{name}/tests/test_{name}_tools.py"] = _test_py(name, svc, cls)
        p.create[f"{name}/skills/{name}/SKILL.md"] = render.skill_md(name, svc)
        user_config = render.user_config(name, svc) | {"read_only": _READ_ONLY}
        p.create[f"{name}/.claude-plugin/plugin.json"] = _json(
            _manifest(name, f"{svc.title} for on-call work: {svc.what}, with PAII's code (made by `paii plugin new`)",
                      user_config))
        entry = render.mcp_entry(name, svc)
        entry["args"] = ["${CLAUDE_PLUGIN_ROOT}/bin/" + LAUNCHER, name]
        entry["env"].pop("PAII_HOME", None)  # PAII's own data home, as for the CLI
        p.create[f"{name}/.mcp.json"] = _json({"mcpServers": {name: entry}})
        p.create[f"{name}/bin/{LAUNCHER}"] = render.template(
            "user_launcher.py", name=name, title=svc.title, name_repr=repr(name), source_repr=repr(str(root / name)),
            paii_root_repr=repr(str(paii)), python_repr=repr(sys.executable))
        p.notes.append(f"{name}/tests/snapshots/{name}.json is written by the new server itself (its tools/list), after the files")
    p.create[f"{name}/README.md"] = readme(p)
    _marketplace(p, root)
    return p


PYTEST_INI = """[pytest]
testpaths = tests
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
addopts = -p no:cacheprovider
"""

_READ_ONLY = {"title": "Read-only mode", "type": "boolean", "required": False,
              "description": "On: this server drops its writing tools. Also on when PAII_READ_ONLY=1 is in the environment "
                             "or in ~/.config/paii/.env."}


def _json(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _manifest(name: str, description: str, user_config: dict) -> dict:
    out = {"name": plugin_name(name), "version": "0.1.0", "description": description,
           "author": {"name": _person()}, "keywords": ["paii", "on-call"]}
    if user_config:
        out["userConfig"] = user_config
    return out


def _person() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "me"


def _check_name(root: Path, paii: Path, raw: str, kind: str) -> str:
    name = (raw or "").strip()
    if kind == "skill":
        name = name.replace("_", "-")
        ok = bool(SKILL_NAME.match(name)) and len(name) <= 40
    else:
        ok = bool(INTEGRATION_NAME.match(name)) and not __import__("keyword").iskeyword(name)
    if not ok:
        raise InvalidInput(f"{raw!r} is not a valid {kind} name: " + (
            "lowercase words joined by - (e.g. standup-notes), up to 40 characters" if kind == "skill" else
            "one lowercase word of 2-30 letters and digits (e.g. datadog): it becomes the package paii_<name>"))
    if name in RESERVED:
        raise InvalidInput(f"{name!r} is reserved in PAII: choose another name")
    if (paii / "servers" / f"paii_{name.replace('-', '_')}").is_dir():
        raise InvalidInput(f"PAII already has a server named {name!r}: choose another name, or see `paii plugin info {name}`")
    if (root / name).exists():
        raise InvalidInput(f"{root / name} already exists: choose another name, or move it away (paii plugin new never "
                           "overwrites)")
    if plugin_name(name) in {p.get("name") for p in _marketplace_data(root).get("plugins", [])}:
        raise InvalidInput(f"{root}/.claude-plugin/marketplace.json already lists {plugin_name(name)}: remove that entry "
                           "or choose another name")
    return name


def _marketplace_data(root: Path) -> dict:
    path = root / ".claude-plugin" / "marketplace.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InvalidInput(f"{path} is not valid JSON ({exc}): fix or remove it; nothing was written") from None
    return data if isinstance(data, dict) else {}


def _marketplace(p: Plan, root: Path) -> None:
    rel = ".claude-plugin/marketplace.json"
    entry = {"name": plugin_name(p.name), "source": f"./{p.name}", "description": _description(p), "version": "0.1.0"}
    data = _marketplace_data(root)
    if not data:
        data = {"name": MARKETPLACE, "owner": {"name": _person()},
                "metadata": {"description": "Plugins of my own made with `paii plugin new`; they run with PAII's code."},
                "plugins": [entry]}
        p.create[rel] = _json(data)
        return
    old = (root / rel).read_text(encoding="utf-8")
    data.setdefault("plugins", []).append(entry)
    p.edit[rel] = (old, _json(data))


def _description(p: Plan) -> str:
    if p.service:
        return f"{p.service.title} for on-call work: {p.service.what}"
    return f"The {p.name} skill and its command"


def marketplace_name(root: Path) -> str:
    return str(_marketplace_data(root).get("name") or MARKETPLACE)


def known_marketplace(root: Path) -> str | None:
    """The name under which Claude Code already knows ``root`` as a marketplace, if it does."""
    import os

    config = Path(os.environ.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude")
    try:
        known = json.loads((config / "plugins" / "known_marketplaces.json").read_text())
    except (OSError, ValueError):
        return None
    for name, spec in (known or {}).items():
        path = (spec or {}).get("installLocation") or ((spec or {}).get("source") or {}).get("path")
        if path and Path(path).expanduser().resolve() == root.resolve():
            return name
    return None


def next_steps(p: Plan) -> list[str]:
    """The commands the person runs next, in order (also in the plugin's README)."""
    market = known_marketplace(p.root)
    steps = [f"claude plugin marketplace update {market}"] if market else [f"claude plugin marketplace add {p.root}"]
    steps.append(f"claude plugin install {plugin_name(p.name)}@{market or marketplace_name(p.root)}")
    return steps


def readme(p: Plan) -> str:
    steps = "\n".join(f"    {s}" for s in next_steps(p))
    folder = p.root / p.name
    lines = [f"# {plugin_name(p.name)}", "", f"{_description(p)}. Made by `paii plugin new {p.name}`: a Claude Code "
             "plugin of your own, next to PAII (the installed PAII plugin is replaced by each update, so new code "
             "lives here).", "", "## Install it in Claude Code (once)", "", steps, "",
             "then restart Claude Code."]
    if p.service:
        env = ", ".join(sorted({render.env_var(p.name, s) for s in p.service.settings}))
        lines += [f"Settings ({env}): `/plugin` > {plugin_name(p.name)} > Configure options, or "
                  "`~/.config/paii/.env`.", "", "## Write it", "",
                  f"Each tool answers \"not implemented yet\" until its call is written in "
                  f"`{folder}/servers/paii_{p.name}/client.py` (and `probe()`, the cheap read `paii doctor` makes). "
                  "The server runs this folder's code, so a restart of Claude Code picks up an edit; a change to "
                  f"`.mcp.json`, `plugin.json` or a skill needs `claude plugin update {plugin_name(p.name)}@"
                  f"{marketplace_name(p.root)}`.", "",
                  "`paii doctor` checks it with PAII's servers; `paii plugin info " + p.name + "` lists its tools.",
                  "Tests: `python -m pytest` in this folder, with a Python that has PAII's dependencies and pytest "
                  "(tests/conftest.py finds PAII's code)."]
    else:
        lines += ["", "Edit `skills/" + p.name + "/SKILL.md` (its description carries the phrases that start it), then "
                  f"`claude plugin update {plugin_name(p.name)}@{marketplace_name(p.root)}`."]
    return "\n".join(lines) + "\n"

"""``paii plugin new``: the files of a new integration server or skill, in a PAII checkout or, in a
plugin install, as a Claude Code plugin of the person's own (:mod:`paii_cli.scaffold.user`).

:func:`plan` works out every file to create and every shared file to edit (nothing is written);
:meth:`Plan.apply` writes them all or, if anything fails (a write, or the new server's own
self-check: it must import, build and list its tools), puts everything back as it was.

An integration ``NAME`` gets ``servers/paii_NAME/`` (``__init__``, ``__main__``, ``config``,
``client`` stub, ``models``, ``server``, ``plugin.toml``), ``tests/NAME/`` with a snapshot test,
``tests/snapshots/NAME.json``, ``skills/NAME/SKILL.md``, and entries in ``pyproject.toml``
(the ``paii-NAME`` script), ``.mcp.json``, ``.claude-plugin/plugin.json`` (``userConfig``) and
``bin/paii-mcp`` (its ``SERVERS``). A skill gets ``skills/NAME/SKILL.md``, a ``references/``
file and a command.

Where (:func:`where`): ``--root``; else ``--user``; else the current folder when it is a PAII
checkout (a git work tree with PAII's layout); else the checkout this ``paii`` runs from; else
this ``paii`` runs from an installed plugin (Claude Code's plugin cache has no ``.git``, and an
update replaces it), and the new part becomes a plugin of the person's own under
``~/.config/paii/plugins`` (:func:`paii_common.manifest.user_plugins_dir`).
"""

from __future__ import annotations

import json
import keyword
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from paii_cli.scaffold import render
from paii_cli.scaffold.edits import _edit_json, _edit_launcher, _edit_pyproject, _insert_json
from paii_cli.scaffold.services import SERVICES, Service, service_for
from paii_common.errors import InvalidInput
from paii_common.local import atomic_write

INTEGRATION_NAME = re.compile(r"^[a-z][a-z0-9]{1,29}$")
SKILL_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
RESERVED = {"cli", "common", "sandbox", "paii", "plugin", "test", "tests", "mcp", "server", "servers"}
DEFAULT_PORT = 8010


class ScaffoldError(Exception):
    """The new server's self-check failed: nothing was left behind."""


@dataclass
class Plan:
    root: Path
    name: str
    kind: str
    create: dict[str, str] = field(default_factory=dict)  # path -> content
    edit: dict[str, tuple[str, str]] = field(default_factory=dict)  # path -> (old, new)
    service: Service | None = None
    notes: list[str] = field(default_factory=list)
    #: "checkout" (this repository's layout) or "user" (a plugin of the person's own under root)
    mode: str = "checkout"
    #: the folder, relative to root, that holds the new server's servers/ and tests/ ("" in a checkout)
    project: str = ""
    #: PAII's own folder, whose servers/ the new server imports (paii_common)
    paii_root: Path | None = None

    def rel(self, path: str) -> str:
        """``path`` inside the new server's project, relative to root."""
        return f"{self.project}/{path}" if self.project else path

    def summary(self) -> dict:
        out = {"name": self.name, "type": self.kind, "mode": self.mode, "root": str(self.root),
               "create": sorted(self.create), "edit": sorted(self.edit), "notes": self.notes}
        if self.service:
            out["service"] = self.service.key
            out["known_service"] = self.service.key in SERVICES
            out["actions"] = [{"name": a.name, "read_only": a.read_only} for a in self.service.actions]
        return out

    def apply(self, *, check: bool = True) -> None:
        """Write every file; on any failure restore the edited files and remove the new ones."""
        written: list[Path] = []
        made_dirs: list[Path] = []
        if not self.root.exists():  # the person's plugins folder, on first use
            self.root.mkdir(parents=True)
            made_dirs.append(self.root)
        try:
            for rel, content in sorted(self.create.items()):
                path = self.root / rel
                for parent in reversed(path.parents):
                    if self.root in parent.parents and not parent.exists():
                        parent.mkdir()
                        made_dirs.append(parent)
                try:
                    with open(path, "x", encoding="utf-8") as fh:  # never overwrite
                        fh.write(content)
                except FileExistsError:
                    raise ScaffoldError(f"{rel} appeared while writing: nothing was written (paii plugin new never "
                                        "overwrites); try again") from None
                written.append(path)
            for rel, (_, new) in sorted(self.edit.items()):
                _replace(self.root / rel, new)
            if self.mode == "user":
                for rel in self.create:
                    if "/bin/" in f"/{rel}":
                        os.chmod(self.root / rel, 0o755)
            if check and self.rel(f"servers/paii_{self.name}/server.py") in self.create:
                snapshots = self.root / self.rel("tests/snapshots")
                if not snapshots.exists():
                    snapshots.mkdir(parents=True)
                    made_dirs.append(snapshots)
                written.append(snapshots / f"{self.name}.json")  # the self-check writes it
                project = self.root / self.project if self.project else self.root
                paths = [project / "servers", project] + ([self.paii_root / "servers"] if self.paii_root else [])
                _self_check(project, paths, self.name)
        except BaseException:
            for rel, (old, _) in self.edit.items():
                _replace(self.root / rel, old)
            for path in reversed(written):
                path.unlink(missing_ok=True)
            for d in reversed(made_dirs):
                for leftover in sorted(d.rglob("*"), reverse=True):  # e.g. __pycache__ from the self-check
                    leftover.rmdir() if leftover.is_dir() else leftover.unlink()
                d.rmdir()
            raise


def _replace(path: Path, text: str) -> None:
    atomic_write(path, text, mode=path.stat().st_mode & 0o7777)


SELF_CHECK = """
import asyncio, os, sys
os.environ["UPDATE_SNAPSHOTS"] = "1"
from mcp import Client
from tests.conftest import check_snapshot
server = __import__("paii_{name}.server", fromlist=["build_server"]).build_server()
async def main():
    async with Client(server) as c:
        check_snapshot("{name}", (await c.list_tools()).tools)
asyncio.run(main())
"""


def _self_check(root: Path, paths: list[Path], name: str) -> None:
    """The new server imports, builds without settings and lists its tools; their snapshot is written
    (``root`` holds its ``tests/``; ``paths`` go on PYTHONPATH)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(f"PAII_{name.upper()}_")}
    with tempfile.TemporaryDirectory() as home:
        env.update(PYTHONPATH=os.pathsep.join(str(p) for p in paths), PAII_HOME=home, PAII_CONFIG_DIR=home,
                   PYTHONDONTWRITEBYTECODE="1")
        proc = subprocess.run([sys.executable, "-c", SELF_CHECK.format(name=name)], cwd=root, env=env,
                              capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise ScaffoldError(f"the generated server did not start ({tail}); nothing was written. This is a bug in "
                            "`paii plugin new`: please report it with the command you ran")


# ------------------------------------------------------------------------------- where and what
def _is_paii(folder: Path) -> bool:
    return (folder / "pyproject.toml").is_file() and (folder / "servers" / "paii_common").is_dir() and (
        folder / ".claude-plugin").is_dir()


def own_root() -> Path:
    """The folder this ``paii`` runs from: a checkout, or an installed plugin."""
    return Path(__file__).resolve().parents[3]


def find_root(explicit: str | None = None) -> Path:
    """The PAII checkout to scaffold into: ``--root``, else the current folder, else the checkout
    this ``paii`` runs from (a folder with PAII's layout; :func:`where` also wants a git work tree)."""
    candidates = [Path(explicit)] if explicit else [Path.cwd(), own_root()]
    for c in candidates:
        c = c.resolve()
        if _is_paii(c):
            return c
    where_ = explicit or os.getcwd()
    raise InvalidInput(f"{where_} is not a PAII checkout (no pyproject.toml, servers/paii_common and .claude-plugin): "
                       "run this in your PAII clone or pass --root PATH")


def where(explicit: str | None = None, *, user: bool = False) -> tuple[str, Path]:
    """("checkout", root) or ("user", the person's plugins folder); see the module's docstring."""
    from paii_common.manifest import user_plugins_dir

    if explicit:
        return "checkout", find_root(explicit)
    if user:
        return "user", user_plugins_dir()
    claude = Path(os.environ.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude").expanduser().resolve() / "plugins"
    for c in (Path.cwd().resolve(), own_root()):
        # a clone (.git folder) or a worktree (.git file); never Claude Code's own copies (its marketplace clones)
        if _is_paii(c) and (c / ".git").exists() and claude not in c.parents:
            return "checkout", c
    return "user", user_plugins_dir()


def _existing(root: Path) -> tuple[set[str], set[str], set[str]]:
    servers = {p.parent.name.removeprefix("paii_") for p in (root / "servers").glob("paii_*/__init__.py")}
    skills = {p.name for p in (root / "skills").glob("*") if p.is_dir()}
    commands = {p.stem for p in (root / "commands").glob("*.md")}
    return servers, skills, commands


def check_name(root: Path, raw: str, kind: str) -> str:
    """The normalised name, or InvalidInput saying what is wrong and what would do."""
    name = (raw or "").strip()
    if kind == "skill":
        name = name.replace("_", "-")
        if not SKILL_NAME.match(name) or len(name) > 40:
            raise InvalidInput(f"skill name {raw!r} is not valid: use lowercase words joined by - or _ (e.g. standup-notes), "
                               "up to 40 characters")
    else:
        if not INTEGRATION_NAME.match(name):
            one = re.sub(r"[^a-z0-9]", "", name.lower())
            hint = f" (e.g. {one!r})" if INTEGRATION_NAME.match(one) else ""
            raise InvalidInput(
                f"integration name {raw!r} is not valid: use one lowercase word of 2-30 letters and digits{hint}. It becomes the "
                "package paii_<name> and Claude Code's tool prefix mcp__plugin_paii_<name>__, where - and _ do not fit")
        if keyword.iskeyword(name):
            raise InvalidInput(f"{name!r} is a Python keyword: choose another name")
    if name in RESERVED:
        raise InvalidInput(f"{name!r} is reserved in PAII: choose another name")
    servers, skills, commands = _existing(root)
    if name.replace("-", "_") in servers:
        raise InvalidInput(f"a server named {name!r} already exists (servers/paii_{name.replace('-', '_')}): choose another name, "
                       f"or see `paii plugin info {name}`")
    if name in skills or name in commands:
        where = f"skills/{name}" if name in skills else f"commands/{name}.md"
        raise InvalidInput(f"{where} already exists: choose another name (a skill and a command must not share one either)")
    return name


def _next_port(root: Path) -> int:
    ports = []
    for main in (root / "servers").glob("paii_*/__main__.py"):
        ports += [int(p) for p in re.findall(r"serve\([^)]*?,\s*(\d{4,5}),\s*argv\)", main.read_text()) if int(p) < 8700]
    return max(ports + [DEFAULT_PORT - 1]) + 1


def _read_verbs(root: Path) -> set[str]:
    text = (root / "hooks" / "read_only_guard.py").read_text() if (root / "hooks" / "read_only_guard.py").is_file() else ""
    m = re.search(r"^READ_VERBS\s*=\s*\{([^}]*)\}", text, re.M)
    return set(re.findall(r"\"([a-z]+)\"", m.group(1))) if m else set()


# ------------------------------------------------------------------------------- the plans
def plan(root: Path, raw_name: str, kind: str, *, service: str | None = None, command: str | None = None,
         description: str | None = None, mode: str = "checkout") -> Plan:
    if mode == "user":
        from paii_cli.scaffold import user

        return user.plan(root, raw_name, kind, service=service, command=command, description=description)
    name = check_name(root, raw_name, kind)
    if kind == "skill":
        p = _plan_skill(root, name, command, description)
    else:
        p = _plan_integration(root, name, check_service(root, name, service))
    in_the_way = [rel for rel in [*p.create, f"tests/snapshots/{name}.json"] if (root / rel).exists()
                  and (kind == "integration" or not rel.startswith("tests/snapshots/"))]
    if in_the_way:
        raise InvalidInput(f"{', '.join(sorted(in_the_way))} already exist{'s' * (len(in_the_way) == 1)}: nothing was written "
                           "(paii plugin new never overwrites). Move them away or choose another name")
    return p


def check_service(root: Path, name: str, service: str | None) -> Service:
    """The service's table entry; its read actions must start with a verb the read-only guard counts as reading."""
    svc = service_for((service or name).strip().lower())
    verbs = _read_verbs(root)
    for a in svc.actions:
        if a.read_only and verbs and a.name.split("_")[0] not in verbs:
            raise InvalidInput(f"read action {a.name} starts with {a.name.split('_')[0]!r}, which hooks/read_only_guard.py "
                               f"does not count as reading (READ_VERBS: {', '.join(sorted(verbs))}): add it there first")
    return svc


def server_files(pkg: str, name: str, svc: Service, values: dict) -> dict[str, str]:
    """A new integration's server package (the files every server has), by path under ``pkg``."""
    return {
        f"{pkg}/__init__.py": render.template("package_init.py", **values),
        f"{pkg}/__main__.py": render.template("main.py", **values),
        f"{pkg}/config.py": render.config_py(name, svc),
        f"{pkg}/client.py": render.client_py(name, svc),
        f"{pkg}/models.py": render.template("models.py", **values),
        f"{pkg}/server.py": render.server_py(name, svc),
        f"{pkg}/plugin.toml": render.plugin_toml(name, svc),
    }


def _plan_integration(root: Path, name: str, svc: Service) -> Plan:
    p = Plan(root=root, name=name, kind="integration", service=svc)
    cls = render.class_name(svc)
    pkg = f"servers/paii_{name}"
    values = dict(name=name, title=svc.title, what=svc.what, cls=cls, port=_next_port(root))
    p.create.update(server_files(pkg, name, svc, values))
    p.create[f"tests/{name}/__init__.py"] = ""
    p.create[f"tests/{name}/test_{name}_tools.py"] = _test_py(name, svc, cls)
    p.create[f"skills/{name}/SKILL.md"] = render.skill_md(name, svc)
    p.edit["pyproject.toml"] = _edit_pyproject(root, name)
    p.edit[".mcp.json"] = _edit_json(root, ".mcp.json", "mcpServers", name, render.mcp_entry(name, svc), 4)
    old, new = (root / ".claude-plugin" / "plugin.json").read_text(), None
    for key, spec in render.user_config(name, svc).items():
        new = _insert_json(new or old, "userConfig", key, spec, 4, ".claude-plugin/plugin.json")
    p.edit[".claude-plugin/plugin.json"] = (old, new)
    p.edit["bin/paii-mcp"] = _edit_launcher(root, name)
    p.notes.append(f"tests/snapshots/{name}.json is written by the new server itself (its tools/list), after the files")
    if svc.key not in SERVICES:
        p.notes.append(f"{svc.key!r} is not a service PAII knows ({', '.join(sorted(SERVICES))}): it gets a token, a URL, "
                       "list_items and get_item; edit them to fit")
    return p


def _test_py(name: str, svc: Service, cls: str) -> str:
    reads = sorted(a.name for a in svc.actions if a.read_only)
    writes = sorted(a.name for a in svc.actions if not a.read_only)
    first = svc.actions[0]
    from paii_cli.scaffold.services import REQUIRED

    args = {a.name: (int(a.example) if a.type == "int" else a.example or "x") for a in first.args if a.default is REQUIRED}
    required = [s for s in svc.settings if s.required]
    configured = ", ".join(f"{s.key}={('https://' + name + '.example.com') if s.key.endswith('url') else 'test-value'!r}"
                           for s in required)
    envs = sorted({n for s in svc.settings for n in render.env_names(name, s)})
    return render.template("test_tools.py", name=name, title=svc.title, cls=cls, reads=_set(reads), writes=_set(writes),
                           first=first.name, first_args=repr(args), first_env=render.env_var(name, required[0]) if required else "",
                           configured=configured, envs=repr(envs))


def _set(names: list[str]) -> str:
    return "{" + ", ".join(repr(n) for n in names) + "}" if names else "set()"


def _plan_skill(root: Path, name: str, command: str | None, description: str | None) -> Plan:
    p = Plan(root=root, name=name, kind="skill")
    cmd = command.strip() if command else f"run-{name}"
    if not SKILL_NAME.match(cmd) or cmd == name:
        raise InvalidInput(f"command name {cmd!r} is not valid: lowercase words joined by -, not the skill's own name "
                           "(a skill and a command with one name collide in Claude Code)")
    _, skills, commands = _existing(root)
    if cmd in commands or cmd in skills:
        raise InvalidInput(f"commands/{cmd}.md or skills/{cmd} already exists: choose another name with --command")
    title, words = name.replace("-", " ").capitalize(), name.replace("-", " ")
    desc = (description or "").strip() or (
        f"{title} with the person, step by step, building on what the PAII history already holds. "
        f"Use when the person asks for {words}, says \"help me with {words}\" or \"let's do {words}\", "
        f"or runs /paii:{cmd}.")
    if len(desc) < 80:
        raise InvalidInput("--description is too short to carry the skill's triggers: say what it does and list the phrases "
                           "that should start it (at least 80 characters)")
    p.create[f"skills/{name}/SKILL.md"] = render.template("skill.md", name=name, title=title, description=json.dumps(desc),
                                                          goal=desc.split(". ")[0].rstrip(".") + ". (Scaffolded by `paii plugin new`: "
                                                          "write the real goal, steps and triggers.)")
    p.create[f"skills/{name}/references/format.md"] = render.template("skill_reference.md", title=title,
                                                                      header=f"{title.upper()}")
    short = desc.split(". ")[0].rstrip(".").replace("'", "''")
    p.create[f"commands/{cmd}.md"] = render.template("command.md", name=name, description=short[:200])
    p.notes.append(f"the command is /paii:{cmd} (a skill and a command must not share a name; --command sets it)")
    return p


__all__ = ["Plan", "ScaffoldError", "check_name", "find_root", "own_root", "plan", "where"]

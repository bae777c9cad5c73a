"""``plugin.toml``: each server's manifest, read by ``paii doctor``.

Format::

    name = "pagerduty"
    version = "0.1.0"
    description = "..."
    entry_point = "paii-pagerduty"
    setup = '''How to set it up: where to get each token, the scopes it needs (a multi-line string;
    `paii doctor` prints it while a required setting is missing).'''

    [provides]
    integration = { contract = "IntegrationProvider", service = "pagerduty" }

    [config]
    token = { type = "string", required = true, env = "PAII_PAGERDUTY_TOKEN", aliases = ["PAGERDUTY_API_KEY"],
              secret = true, description = "...", without = "what still works when it is missing" }
    kubeconfig = { required = true, env = "PAII_KUBERNETES_KUBECONFIG", aliases = ["KUBECONFIG"],
                   fallback_files = ["~/.kube/config"], fallback_env = ["KUBERNETES_SERVICE_HOST"] }

A required setting with ``fallback_files`` counts as set when one of those files exists (the
source is "file ~/.kube/config"), and with ``fallback_env`` when one of those variables is set
(running in a cluster): Kubernetes with no kubeconfig anywhere is "not set up".

Servers are found on ``sys.path`` (PAII's own and any installed ``paii_*`` package) and in the
person's own plugins, ``paii_config_dir()/plugins/<name>/servers`` (what ``paii plugin new``
writes in a plugin install): :func:`server_names` puts those folders on ``sys.path``.
"""

from __future__ import annotations

import importlib.resources
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paii_common.config import is_set

#: the servers PAII ships, in the order doctor lists them; others found by :func:`server_names` follow
SERVERS = ("history", "pagerduty", "slack", "jira", "kubernetes", "runbook")
#: paii_* packages that are not MCP servers
NOT_SERVERS = frozenset({"cli", "common", "sandbox"})


def user_plugins_dir() -> Path:
    """The person's own plugins (``paii plugin new`` in a plugin install): ``<config dir>/plugins``,
    i.e. ``~/.config/paii/plugins`` unless ``PAII_CONFIG_DIR`` says otherwise. It is also a Claude
    Code marketplace (``.claude-plugin/marketplace.json``)."""
    from paii_common.config import paii_config_dir

    return paii_config_dir() / "plugins"


def user_servers() -> dict[str, Path]:
    """name -> the ``servers`` folder of each of the person's plugins that holds ``paii_<name>/plugin.toml``."""
    root = user_plugins_dir()
    if not root.is_dir():
        return {}
    out = {}
    for toml in sorted(root.glob("*/servers/paii_*/plugin.toml")):
        name = toml.parent.name.removeprefix("paii_")
        if name not in NOT_SERVERS:
            out.setdefault(name, toml.parent.parent)
    return out


def server_names() -> list[str]:
    """Every installed PAII server: a ``paii_<name>`` package that ships a ``plugin.toml``.

    Shipped servers first (in :data:`SERVERS` order), then any other (one made by
    ``paii plugin new``, in a checkout or among the person's own plugins) by name. The servers
    folders of the person's plugins are added to ``sys.path`` so that they import; a name PAII
    itself already has keeps PAII's.
    """
    import pkgutil
    import sys

    for folder in user_servers().values():
        if str(folder) not in sys.path:
            sys.path.append(str(folder))
    found = set()
    for mod in pkgutil.iter_modules():
        if not (mod.ispkg and mod.name.startswith("paii_")) or mod.name[5:] in NOT_SERVERS:
            continue
        try:
            if importlib.resources.files(mod.name).joinpath("plugin.toml").is_file():
                found.add(mod.name[5:])
        except (ModuleNotFoundError, OSError):
            continue
    return [n for n in SERVERS if n in found] + sorted(found - set(SERVERS))


@dataclass(frozen=True)
class ConfigEntry:
    key: str
    type: str = "string"
    required: bool = False
    env: str = ""
    aliases: tuple[str, ...] = ()
    secret: bool = False
    default: Any = None
    description: str = ""
    without: str = ""
    #: files that stand in for the setting when it is not set (e.g. ~/.kube/config)
    fallback_files: tuple[str, ...] = ()
    #: variables whose presence stands in for it (e.g. KUBERNETES_SERVICE_HOST: running in a cluster)
    fallback_env: tuple[str, ...] = ()

    def env_names(self) -> tuple[str, ...]:
        return ((self.env,) if self.env else ()) + self.aliases


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    description: str
    entry_point: str
    provides: dict[str, dict[str, Any]] = field(default_factory=dict)
    config: tuple[ConfigEntry, ...] = ()
    #: how to set the server up (tokens, scopes, where to create them); doctor prints it
    setup: str = ""


def parse_manifest(text: str) -> Manifest:
    data = tomllib.loads(text)
    entries = []
    for key, spec in (data.get("config") or {}).items():
        spec = dict(spec)
        for key_ in ("aliases", "fallback_files", "fallback_env"):
            spec[key_] = tuple(spec.get(key_, ()))
        entries.append(ConfigEntry(key=key, **spec))
    return Manifest(
        name=data["name"],
        version=data.get("version", "0"),
        description=data.get("description", ""),
        entry_point=data.get("entry_point", f"paii-{data['name']}"),
        provides=dict(data.get("provides") or {}),
        config=tuple(entries),
        setup=str(data.get("setup", "")).strip(),
    )


def load_manifest(server: str) -> Manifest:
    """The manifest shipped in ``paii_<server>/plugin.toml``."""
    res = importlib.resources.files(f"paii_{server}").joinpath("plugin.toml")
    return parse_manifest(res.read_text(encoding="utf-8"))


def read_env_file(path: Path) -> dict[str, str]:
    from paii_common.config import read_dotenv

    return read_dotenv(path)


@dataclass(frozen=True)
class ConfigStatus:
    entry: ConfigEntry
    source: str | None  # "environment", ".env", "file ~/.kube/config", "in a cluster (VAR)", or None when missing
    var: str | None  # the variable that set it (None for a fallback)

    @property
    def ok(self) -> bool:
        return self.source is not None or not self.entry.required


def config_status(manifest: Manifest, env: dict[str, str] | None = None, dotenv: dict[str, str] | None = None) -> list[ConfigStatus]:
    env = dict(os.environ) if env is None else env
    dotenv = dotenv or {}
    out = []
    for entry in manifest.config:
        source = var = None
        for name in entry.env_names():
            value = env.get(name)
            if is_set(value):
                source, var = "environment", name
                break
            if is_set(dotenv.get(name)):
                source, var = ".env", name
                break
        if source is None:
            source = _fallback(entry, env)
        out.append(ConfigStatus(entry=entry, source=source, var=var))
    return out


def _fallback(entry: ConfigEntry, env: dict[str, str]) -> str | None:
    for path in entry.fallback_files:
        if Path(path).expanduser().is_file():
            return f"file {path}"
    for name in entry.fallback_env:
        if is_set(env.get(name)):
            return f"in a cluster ({name})" if name == "KUBERNETES_SERVICE_HOST" else f"{name} is set"
    return None

"""The registry: every module here whose name does not start with ``_`` is a sandbox service.

A service is one module ``services/<name>.py`` plus its part of the seed data::

    NAME = "jira"              # its key in the seed and in the world's state
    PORT_OFFSET = 2            # pagerduty 0, slack 1, jira 2, kubernetes 3, postgres 4 (admin: 9)
    def seed(data: dict, now: datetime) -> Any            # initial state from its seed part
    def create_app(state: Any, world: World) -> Starlette  # the HTTP app (world.now() is the clock)
    def env(base_url: str, sandbox_dir: Path) -> dict[str, str]   # points PAII's servers at it
                               # (sandbox_dir: an absolute folder for files it writes, e.g. a
                               # kubeconfig; a temporary one when the sandbox has none)

Optional hooks: ``error_body(status) -> (body, content_type)`` (the service's own shape of a
429/500, used by fault injection), ``dump(state) -> dict`` (``paii sandbox state NAME``),
``mutates(method, path) -> bool`` (the requests that may change its state, which the write log
keeps; default: every method but GET and HEAD; a WebSocket comes as method ``WEBSOCKET``) and
``runtime(world, files_dir, *, ephemeral, say) -> obj`` for processes run beside the app (the
real PostgreSQL pair): the sandbox calls ``obj.start()`` before serving, ``obj.reset()`` after a
reseed and ``obj.stop()`` at the end, shows ``obj.status()`` under the service's name in
``paii sandbox status``, and keeps it in ``world.runtimes[NAME]`` (another service's exec rule can
ask it: ``live: postgres.dbstats``).
Modules whose name starts with ``_`` are private helpers of a service.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

REQUIRED = ("NAME", "PORT_OFFSET", "seed", "create_app", "env")


def discover() -> list[ModuleType]:
    """Every service module, ordered by port offset; a malformed one is an error that names it."""
    found: list[ModuleType] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        missing = [attr for attr in REQUIRED if not hasattr(module, attr)]
        if missing:
            raise RuntimeError(f"sandbox service {info.name}.py lacks {', '.join(missing)}")
        found.append(module)
    found.sort(key=lambda m: m.PORT_OFFSET)
    offsets = [m.PORT_OFFSET for m in found]
    if len(set(offsets)) != len(offsets) or any(not 0 <= o <= 8 for o in offsets):
        raise RuntimeError(f"sandbox services need distinct port offsets 0-8, got {offsets}")
    return found

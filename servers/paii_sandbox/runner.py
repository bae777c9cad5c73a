"""Serving a world: one uvicorn server per service on 127.0.0.1, plus the admin app, in one loop.

:class:`Sandbox` binds every port first (a port in use fails the start with its name), then
serves each service's wrapped app. A whole-service ``down`` fault closes that service's socket
(connection refused) until cleared. The world is saved to ``state.pickle`` after writes, and every
write is in ``writes.log`` before it is answered (:mod:`paii_sandbox.writelog`), so a restarted
sandbox resumes it, after a kill -9 too. ``start_in_thread`` runs it beside a test or the demo.

A sandbox without a folder (a test's) keeps nothing, but its services still write files for
PAII's servers (a kubeconfig, psql stand-ins): they get a temporary folder of their own, removed
by :meth:`stop_thread`, never the working directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import secrets
import shutil
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any

from paii_sandbox.faults import DropConnection, Fault
from paii_sandbox.world import World
from paii_sandbox.writelog import WriteLog

HOST = "127.0.0.1"
ADMIN_OFFSET = 9  # services use offsets 0-8 of a port base
SAVE_EVERY = 0.5  # seconds between snapshots while the world changes

log = logging.getLogger("paii.sandbox")


class PortInUse(Exception):
    def __init__(self, what: str, port: int) -> None:
        super().__init__(
            f"port {port} ({what}) is already in use on {HOST}: stop what listens there "
            f"(`paii sandbox status` if it is a sandbox) or choose another --port-base"
        )
        self.what, self.port = what, port


class _DropFilter(logging.Filter):
    """uvicorn logs a traceback for a connection the sandbox drops on purpose: hide it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DropConnection))


def _bind(port: int, what: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise PortInUse(what, port) from None
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


class Sandbox:
    """A world served on loopback ports: ``port_base + PORT_OFFSET`` each (0: any free ports)."""

    def __init__(self, world: World, *, port_base: int = 0, directory: Path | None = None,
                 say: Any = None) -> None:
        self.world = world
        self.say = say or log.warning  # one-line news at start (which database, or why the stand-in)
        self.port_base = port_base
        self.directory = directory
        self.admin_token = secrets.token_urlsafe(16)
        self.ports: dict[str, int] = {}
        self.admin_port = 0
        self._sockets: dict[str, socket.socket] = {}
        self._servers: dict[str, Any] = {}
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._scratch: Path | None = None
        logging.getLogger("uvicorn.error").addFilter(_DropFilter())

    # ------------------------------------------------------------------ ports and URLs
    def bind(self) -> None:
        """Bind every port now (before serving), so a port in use fails the start clearly."""
        wanted = [(name, m.PORT_OFFSET) for name, m in self.world.modules.items()] + [("admin", ADMIN_OFFSET)]
        try:
            for name, offset in wanted:
                port = self.port_base + offset if self.port_base else 0
                sock = _bind(port, name)
                self._sockets[name] = sock
                if name == "admin":
                    self.admin_port = sock.getsockname()[1]
                else:
                    self.ports[name] = sock.getsockname()[1]
        except BaseException:
            for sock in self._sockets.values():
                sock.close()
            self._sockets.clear()
            raise

    def base_url(self, name: str) -> str:
        return f"http://{HOST}:{self.ports[name]}"

    @property
    def admin_url(self) -> str:
        return f"http://{HOST}:{self.admin_port}"

    def env(self) -> dict[str, str]:
        """The environment that points every PAII server at this sandbox."""
        out: dict[str, str] = {}
        for name, module in self.world.modules.items():
            out.update(module.env(self.base_url(name), self.files_dir()))
        if self.world.fixed_now is not None:
            from paii_sandbox.timeparse import iso

            out["PAII_NOW"] = iso(self.world.fixed_now)
            if self.world.clock_since is not None:  # the clock moves on from there: the servers' too
                out["PAII_NOW_SINCE"] = f"{self.world.clock_since - self.world.fixed_now.microsecond / 1e6:.3f}"
        return out

    def files_dir(self) -> Path:
        """Where services write files for PAII's servers: the sandbox's folder, else a temporary one."""
        if self.directory is not None:
            return self.directory.resolve()
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="paii-sandbox-"))
        return self._scratch

    # ------------------------------------------------------------------ serving
    def _server(self, app: Any) -> Any:
        import uvicorn

        class QuietServer(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self):  # type: ignore[override]
                yield  # the sandbox handles signals for all its servers

        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False,
                                timeout_graceful_shutdown=2, timeout_keep_alive=5)
        return QuietServer(config)

    def _start(self, name: str, app: Any) -> None:
        sock = self._sockets.get(name)
        if sock is None:  # back up after a "down": the same port again
            port = self.admin_port if name == "admin" else self.ports[name]
            sock = self._sockets[name] = _bind(port, name)
        server = self._servers[name] = self._server(app)
        self._tasks[name] = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))

    async def _halt(self, name: str) -> None:
        server, task = self._servers.pop(name, None), self._tasks.pop(name, None)
        self._sockets.pop(name, None)
        if server is not None:
            server.should_exit = True
        if task is not None:
            with contextlib.suppress(Exception):
                await task

    async def sync_down(self) -> None:
        """Stop serving the services a ``down`` fault names; serve again those it no longer does."""
        for name in self.world.modules:
            down = self.world.faults.is_down(name)
            if down and name in self._servers:
                await self._halt(name)
                # keep nothing listening: a client gets "connection refused"
            elif not down and name not in self._servers:
                self._start(name, self.world.asgi(name))

    async def serve(self, stop: asyncio.Event | None = None) -> None:
        """Serve until ``stop`` is set (or :meth:`stop` is called)."""
        from paii_sandbox.admin import create_admin_app

        if not self._sockets:
            self.bind()
        self._loop = asyncio.get_running_loop()
        self._stop = stop or asyncio.Event()
        await self._start_runtimes()
        for name in self.world.modules:
            if self.world.faults.is_down(name):
                self._sockets.pop(name).close()
            else:
                self._start(name, self.world.asgi(name))
        self._start("admin", create_admin_app(self))
        saver = asyncio.create_task(self._save_loop())
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            saver.cancel()
            for name in list(self._servers):
                await self._halt(name)
            await self._stop_runtimes()
            self.save(force=self.world.dirty)
            if self.world.write_log is not None:
                self.world.write_log.close()

    # ------------------------------------------------------------------ runtimes (a real database)
    async def _start_runtimes(self) -> None:
        """Start what services run beside their apps (their optional ``runtime`` hook), before serving."""
        ephemeral = self.directory is None
        for name, module in self.world.modules.items():
            hook = getattr(module, "runtime", None)
            if hook is not None and name not in self.world.runtimes:
                rt = hook(self.world, self.files_dir(), ephemeral=ephemeral, say=self.say)
                self.world.runtimes[name] = rt
                await asyncio.to_thread(rt.start)

    async def _stop_runtimes(self) -> None:
        for name in list(self.world.runtimes):
            rt = self.world.runtimes.pop(name)
            await asyncio.to_thread(rt.stop)

    async def reset(self) -> None:
        """The world back to its seed, and every runtime rebuilt for it."""
        self.world.reseed()
        self.save(force=True)  # the seeded world on disk before the answer: the write log starts over
        for rt in list(self.world.runtimes.values()):
            await asyncio.to_thread(rt.reset)
        await self.sync_down()

    def stop(self) -> None:
        """Ask a serving sandbox to stop (from any thread)."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    # ------------------------------------------------------------------ persistence
    @property
    def state_file(self) -> Path | None:
        return self.directory / "state.pickle" if self.directory else None

    @property
    def log_file(self) -> Path | None:
        return self.directory / "writes.log" if self.directory else None

    def open_log(self, after: int = 0) -> None:
        """Save the world as it is now and log every write from here on (a sandbox with a folder);
        ``after``: the last entry of the log already there (the world contains it: numbering goes on)."""
        if self.log_file is None:
            return
        self.world.attach_log(WriteLog(self.log_file, start_seq=after))
        self.save(force=True)

    def save(self, force: bool = False) -> None:
        """Write the snapshot (atomically, on disk) if the world changed, then empty the write log.
        Not while a logged request is half handled (unless ``force``): the next round saves it."""
        path = self.state_file
        if path is None or not (self.world.dirty or force) or (self.world.handling_logged and not force):
            return
        from paii_common.local import atomic_write

        self.world.dirty = False
        try:
            atomic_write(path, self.world.snapshot())
        except BaseException:
            self.world.dirty = True
            raise
        self.world.snapshot_saved()

    async def _save_loop(self) -> None:
        while True:
            await asyncio.sleep(SAVE_EVERY)
            try:
                self.save()
            except OSError as exc:  # a full disk must not stop the sandbox
                log.warning("could not save the sandbox world: %s", exc)

    # ------------------------------------------------------------------ faults (admin)
    async def add_fault(self, fault: Fault) -> Fault:
        if fault.service not in self.world.modules:
            raise ValueError(f"no service {fault.service!r}: one of {', '.join(self.world.modules)}")
        self.world.faults.add(fault)
        await self.sync_down()
        return fault

    async def clear_faults(self, service: str | None = None, path: str | None = None) -> list[Fault]:
        gone = self.world.faults.clear(service, path)
        await self.sync_down()
        return gone

    # ------------------------------------------------------------------ in a thread
    def start_in_thread(self, timeout: float = 20.0) -> Sandbox:
        """Serve in a daemon thread (tests, the demo); returns once every port answers."""
        if not self._sockets:
            self.bind()

        def run() -> None:
            try:
                asyncio.run(self.serve())
            except BaseException as exc:  # reported by start_in_thread / stop_thread
                self._error = exc
                self._ready.set()

        self._thread = threading.Thread(target=run, name="paii-sandbox", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the sandbox did not start in time")
        if self._error is not None:
            raise self._error
        return self

    def stop_thread(self, timeout: float = 10.0) -> None:
        """Stop a sandbox served in a thread (a test's, the demo's): its runtimes keep no data (the demo
        starts a fresh database pair each time; ``paii sandbox start`` is served otherwise and keeps it)."""
        for rt in list(self.world.runtimes.values()):
            rt.ephemeral = True
        self.stop()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def __enter__(self) -> Sandbox:
        return self.start_in_thread()

    def __exit__(self, *exc: object) -> None:
        self.stop_thread()

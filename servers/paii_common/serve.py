"""The one ``main()`` every server's ``__main__`` calls: parse the transport, log to stderr, run.

Settings and the server are built inside (never at import), and every secret the settings hold
is registered for redaction before the first log line can mention it.
"""

from __future__ import annotations

import argparse
import importlib
import sys


def serve(name: str, settings_class: str, description: str, default_port: int, argv: list[str] | None = None) -> None:
    """Run ``paii_<name>.server.build_server(paii_<name>.config.<settings_class>.load())``."""
    parser = argparse.ArgumentParser(prog=f"paii-{name}", description=description)
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio",
                        help="stdio for one client (default); streamable-http to serve a team")
    parser.add_argument("--host", default="127.0.0.1", help="streamable-http only (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=default_port, help=f"streamable-http only (default {default_port})")
    parser.add_argument("--no-auth", action="store_true",
                        help="streamable-http on a loopback address only: serve without tokens, to try it on this machine "
                             "(otherwise every request needs a token from PAII_AUTH_TOKENS_FILE: paii auth add NAME)")
    args = parser.parse_args(argv)

    from paii_common.redact import register_secret, setup_logging

    setup_logging()
    config = importlib.import_module(f"paii_{name}.config")
    cls = getattr(config, settings_class)
    try:  # before the server module is imported: a bad setting is reported at once
        settings = cls.load()
    except ValueError as exc:  # SettingError, or pydantic's ValidationError (a ValueError too)
        from paii_common.config import describe_settings_error

        print(f"paii-{name}: cannot start: {describe_settings_error(exc, cls)}", file=sys.stderr)
        raise SystemExit(2) from None
    server_mod = importlib.import_module(f"paii_{name}.server")
    register_secret(*settings.secret_values())
    server = server_mod.build_server(settings)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        from paii_common.transport import run_http  # tokens, exposure checks, Host headers: see there

        run_http(server, name=name, host=args.host, port=args.port, no_auth=args.no_auth)

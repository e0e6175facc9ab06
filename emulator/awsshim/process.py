"""The emulator process: arguments, the READY line, the registry child, and exiting when stdin closes or
on SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import signal
import sys
import threading
from typing import Any, Callable

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import make_server

from .front import ShimApp
from .registry_backend import RegistryBackend


def exit_when_stdin_closes(shutdown: Callable[[], None]) -> None:
    try:
        while sys.stdin.buffer.read(65536):
            pass
    except (OSError, ValueError):
        pass
    shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local AWS emulator (moto behind the product's shim).")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument(
        "--ignore-stdin",
        action="store_true",
        help="keep running when stdin closes (for running detached; stop it with SIGTERM)",
    )
    args = parser.parse_args(argv)

    logging.basicConfig(stream=sys.stderr, level=logging.INFO if args.verbose else logging.WARNING)
    # Quiet unless verbose: a registry client with --tls-verify=false tries TLS before plain HTTP,
    # and werkzeug logs each such handshake as a bad request.
    logging.getLogger("werkzeug").setLevel(logging.INFO if args.verbose else logging.CRITICAL)

    # ECR's registry (README "ECR's registry"): the docker-registry child is spawned here, from the main
    # thread (see RegistryBackend), and stopped before every exit: os._exit runs no cleanup of its own.
    registry = RegistryBackend.start()
    atexit.register(registry.stop)  # a normal exit (the server failing to bind, say)

    def shutdown() -> None:
        registry.stop()
        os._exit(0)

    def stop(signum: int, frame: Any) -> None:
        shutdown()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if not args.ignore_stdin:
        threading.Thread(target=exit_when_stdin_closes, args=(shutdown,), name="stdin-watch", daemon=True).start()

    server = make_server(args.host, args.port, ShimApp(registry), threaded=True, request_handler=MotoRequestHandler)
    # moto builds URLs pointing back at itself from this.
    os.environ.setdefault("MOTO_PORT", str(server.server_port))
    sys.stdout.write(f"READY http://{args.host}:{server.server_port}\n")
    sys.stdout.flush()
    server.serve_forever()

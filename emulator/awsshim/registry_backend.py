"""The docker-registry child process behind ECR's registry (`RegistryBackend`: started at the first
registry call, stopped with its directory when the shim exits), and the registry API's JSON answers and
errors, its own and the shim's.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from typing import Any, Callable

from .protocol import Response


REGISTRY_BINARY = "docker-registry"  # Debian package docker-registry: the CNCF Distribution registry
REGISTRY_START_SECONDS = 10.0


REGISTRY_API_VERSION = ("Docker-Distribution-Api-Version", "registry/2.0")


REGISTRY_RESPONSE_HEADERS = frozenset(
    {
        "location",
        "docker-content-digest",
        "docker-upload-uuid",
        "docker-distribution-api-version",
        "range",
        "content-range",
        "content-type",
        "content-length",
        "accept-ranges",
        "link",
        "etag",
    }
)


_PR_SET_PDEATHSIG = 1


def registry_json(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    body = json.dumps(payload).encode()
    return Response(
        status,
        [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Content-Length", str(len(body))),
            REGISTRY_API_VERSION,
            *(headers or []),
        ],
        body,
    )


def registry_error(status: int, code: str, message: str) -> Response:
    """A registry error as the distribution spec shapes them: {"errors": [{"code", "message"}]}."""
    return registry_json(status, {"errors": [{"code": code, "message": message}]})


def _parent_death_signal() -> Callable[[], None] | None:
    """A preexec_fn making the child get SIGTERM when the shim dies, even by SIGKILL (prctl
    PR_SET_PDEATHSIG); None where libc has no prctl. libc is loaded here, before the fork."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def in_child() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the shim died before the signal was set up
            os._exit(1)

    return in_child


def sweep_registry_directories() -> None:
    """Remove the registry directories of shims that are gone (a SIGKILLed shim removes nothing itself);
    each directory is named after its shim's pid."""
    for path in glob.glob(os.path.join(tempfile.gettempdir(), "emulator-registry-*-*")):
        pid = os.path.basename(path).split("-")[2]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:  # alive, someone else's
            pass


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RegistryBackend:
    """The docker-registry child process that stores the blobs and manifests pushed to ECR's registry; the
    shim fronts it (README "ECR's registry"). Started on first need by a thread main() starts (see
    spawn_when_wanted), so neither the READY line nor a run that pushes nothing waits for it."""

    def __init__(self, reason: str | None = None) -> None:
        self.lock = threading.Lock()
        self.settled = threading.Event()  # startup finished, either way
        self.process: subprocess.Popen[bytes] | None = None
        self.directory: str | None = None
        self.address: str | None = None
        self.reason: str | None = reason
        self.stopping = False
        self.wanted = threading.Event()  # someone needs the registry: start it (spawn_when_wanted)
        if reason is not None:
            self.settled.set()

    @classmethod
    def start(cls) -> "RegistryBackend":
        none = "the emulator serves no image registry"
        if os.environ.get("EMULATOR_REGISTRY", "").strip().lower() == "off":
            return cls(f"the registry is turned off (EMULATOR_REGISTRY=off); {none}")
        named = os.environ.get("EMULATOR_REGISTRY_BINARY", "").strip()
        binary = shutil.which(named or REGISTRY_BINARY)
        if binary is None:
            if named:
                return cls(f"EMULATOR_REGISTRY_BINARY={named} is not an executable; {none}")
            return cls(f"docker-registry is not installed (Debian package docker-registry); {none}")
        backend = cls()
        threading.Thread(target=backend.spawn_when_wanted, args=(binary, none), name="registry", daemon=True).start()
        return backend

    def spawn_when_wanted(self, binary: str, none: str) -> None:
        """Started from the main thread; spawns the child at the first registry call or status request (most
        emulator runs push no image, and a child per run costs the start of each), then lives as long as the
        child: the child's parent-death signal fires when the thread that forked it ends."""
        self.wanted.wait()
        try:
            port = self.spawn(binary)
        except OSError as error:
            self.stop()
            self.reason = f"docker-registry ({binary}) could not be started: {error}; {none}"
            self.settled.set()
            return
        self.await_ready(port)

    def spawn(self, binary: str) -> int:
        sweep_registry_directories()
        self.directory = tempfile.mkdtemp(prefix=f"emulator-registry-{os.getpid()}-")
        port = _free_port()
        config = os.path.join(self.directory, "config.yml")
        with open(config, "w", encoding="utf-8") as out:
            out.write(
                "version: 0.1\n"
                "storage:\n"
                "  filesystem:\n"
                f"    rootdirectory: {os.path.join(self.directory, 'data')}\n"
                "  delete:\n"
                "    enabled: true\n"
                "http:\n"
                f"  addr: 127.0.0.1:{port}\n"
                "  relativeurls: true\n"
                f"  secret: {secrets.token_hex(16)}\n"
                "log:\n"
                "  level: warn\n"
                "  accesslog:\n"
                "    disabled: true\n"
            )
        with open(os.path.join(self.directory, "registry.log"), "ab") as logfile:
            self.process = subprocess.Popen(
                [binary, "serve", config],
                stdin=subprocess.DEVNULL,
                stdout=logfile,
                stderr=logfile,
                close_fds=True,
                preexec_fn=_parent_death_signal(),
            )
        return port

    def await_ready(self, port: int) -> None:
        """Poll GET /v2/ until docker-registry answers (at most REGISTRY_START_SECONDS); then watch it."""
        process = self.process
        assert process is not None
        deadline = time.monotonic() + REGISTRY_START_SECONDS
        while time.monotonic() < deadline and process.poll() is None and not self.stopping:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
            try:
                connection.request("GET", "/v2/")
                if connection.getresponse().status == 200:
                    with self.lock:
                        self.address = f"127.0.0.1:{port}"
                    break
            except OSError:
                pass
            finally:
                connection.close()
            time.sleep(0.05)
        with self.lock:
            if self.address is None and self.reason is None:
                code = process.poll()
                said = self.log_tail()
                if code is not None:
                    failure = f"docker-registry exited with code {code} at startup"
                else:
                    failure = f"docker-registry did not answer within {REGISTRY_START_SECONDS:.0f} s"
                self.reason = failure + (f": {said}" if said else "") + "; the emulator serves no image registry"
        if self.address is None and process.poll() is None:
            process.kill()
        self.settled.set()
        if self.address is None:
            return
        code = process.wait()
        with self.lock:
            if not self.stopping:
                self.address = None
                self.reason = f"docker-registry exited with code {code}: {self.log_tail()}"

    def log_tail(self) -> str:
        try:
            path = os.path.join(self.directory or "", "registry.log")
            with open(path, encoding="utf-8", errors="replace") as logfile:
                lines = [line.strip() for line in logfile if line.strip()]
        except OSError:
            return ""
        return lines[-1][:300] if lines else ""

    def status(self, wait: bool = False) -> tuple[bool, str | None, str | None]:
        """(running, backend address, reason it is not running); waits for startup when asked."""
        self.wanted.set()
        if wait:
            self.settled.wait(REGISTRY_START_SECONDS + 1.0)
        with self.lock:
            if self.address is not None:
                return True, self.address, None
            return False, None, self.reason or "docker-registry is still starting"

    def request(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        """One call to docker-registry; its answer with the headers a registry client needs."""
        with self.lock:
            address = self.address
        if address is None:
            return registry_error(503, "UNAVAILABLE", self.reason or "docker-registry is not running")
        host, _, port = address.rpartition(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=300)
        try:
            connection.request(method, target, body=body if "Content-Length" in headers else None, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
            kept = [(name, value) for name, value in answer.getheaders() if name.lower() in REGISTRY_RESPONSE_HEADERS]
            return Response(answer.status, kept, data, answer.reason)
        except OSError as error:
            return registry_error(503, "UNAVAILABLE", f"docker-registry did not answer: {error}")
        finally:
            connection.close()

    def stop(self) -> None:
        """Stop the child and remove its directory (the shim's exits call os._exit, so nothing else would)."""
        with self.lock:
            self.stopping = True
            process, directory = self.process, self.directory
            self.address = None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if directory:
            shutil.rmtree(directory, ignore_errors=True)

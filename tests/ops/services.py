"""Subprocesses and throw-away services on loopback: PostgreSQL and Redis as the topology needs them.

Every subprocess runs in its own process group with its own log file; ``Processes.stop_all`` ends
them (and any children they left) by pid, also when a test fails half-way. Used by
tests/ops/topology.py (the Airflow processes) and bench/bench_scheduler_overhead.py.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

log = logging.getLogger(__name__)
PROJECT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"


class TopologyError(RuntimeError):
    """A service did not start, died, or the run did not finish as expected."""


# ---------------------------------------------------------------------------------------- discovery
def free_port() -> int:
    """A TCP port that is free on loopback right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def pg_bin(name: str) -> str | None:
    """A PostgreSQL server binary: on PATH, else the newest in Debian's /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3].split(".")[0])
    )
    return str(candidates[-1]) if candidates else None


# ---------------------------------------------------------------------------------------- processes
@dataclass
class Service:
    name: str
    proc: subprocess.Popen
    log: Path
    stop_signal: int = signal.SIGTERM
    stop_timeout: float | None = None


@dataclass
class Processes:
    """Subprocesses each in their own process group, logging to ``log_dir/NAME.log``."""

    log_dir: Path
    services: list[Service] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        stop_signal: int = signal.SIGTERM,
        stop_timeout: float | None = None,
    ) -> Service:
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                argv,
                env=env,
                cwd=PROJECT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = Service(name, proc, log, stop_signal, stop_timeout)
        self.services.append(service)
        return service

    def check_alive(self) -> None:
        """Raise naming the first service that has exited."""
        for service in self.services:
            code = service.proc.poll()
            if code is not None:
                raise TopologyError(f"{service.name} exited with code {code}; log: {service.log}")

    def stop_all(self, timeout: float = 20.0) -> None:
        """Stop services in reverse start order, then kill whatever they left behind, by pid."""
        for service in reversed(self.services):
            began = time.monotonic()
            _stop(service, timeout)
            log.info("stopped %s in %.1fs", service.name, time.monotonic() - began)
        self.services.clear()

    def tail_logs(self, lines: int = 60) -> str:
        parts = []
        for log in sorted(self.log_dir.glob("*.log")):
            text = log.read_text(errors="replace").splitlines()
            parts.append(f"===== {log.name} (last {lines} lines) =====\n" + "\n".join(text[-lines:]))
        return "\n".join(parts)


def _stop(service: Service, timeout: float) -> None:
    """Signal the service's group and every descendant by pid, wait, then SIGKILL what is left."""
    proc = service.proc
    try:
        parent = psutil.Process(proc.pid)
        tree = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, service.stop_signal)
    # Descendants that left the group (a new session) still get the signal through their pid.
    for member in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.send_signal(service.stop_signal)
    _, alive = psutil.wait_procs(tree, timeout=service.stop_timeout or timeout)
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def wait_until(what: str, ready: Callable[[], Any], timeout: float, procs: Processes | None = None) -> Any:
    """Poll ``ready()`` until it returns something truthy; raise naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if procs is not None:
            procs.check_alive()
        try:
            result = ready()
            if result:
                return result
        except (OSError, httpx.HTTPError) as exc:
            last_error = exc
        time.sleep(0.5)
    raise TopologyError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_error})")


# ----------------------------------------------------------------------------------- PostgreSQL, Redis
def _unprivileged_prefix() -> tuple[list[str], str | None]:
    """PostgreSQL refuses to run as root: as root, run it as the ``postgres`` (or ``nobody``) user."""
    if os.geteuid() != 0:
        return [], None
    for user in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(user)
            return ["runuser", "-u", user, "--"], user
    raise TopologyError("running as root and neither a 'postgres' nor a 'nobody' user exists")


def start_postgres(procs: Processes, workdir: Path, databases: tuple[str, ...] = ("airflow",)) -> str:
    """Start a throw-away PostgreSQL on a free loopback port with ``databases``.

    Returns the SQLAlchemy URL of the server without a database name (append ``/NAME``).
    """
    import psycopg2

    prefix, user = _unprivileged_prefix()
    # Not under pytest's tmp dir, which is private to root while postgres runs as another user
    # (ECOM_PG_TMP picks another parent folder).
    pgdata = Path(tempfile.mkdtemp(prefix="ecom-pg-", dir=os.environ.get("ECOM_PG_TMP", "/tmp")))
    (workdir / "pgdata-path").write_text(str(pgdata))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
    initdb = [*prefix, pg_bin("initdb"), "-D", str(pgdata), "-U", "airflow", "-A", "trust", "-E", "UTF8"]
    out = subprocess.run([*initdb, "--no-sync"], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise TopologyError(f"initdb failed: {out.stdout[-2000:]}{out.stderr[-2000:]}")
    port = free_port()
    # Durability off: the database lives as long as one test.
    server = [pg_bin("postgres"), "-D", str(pgdata), "-p", str(port), "-h", LOOPBACK, "-k", str(pgdata)]
    settings = ["fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=200"]
    for setting in settings:
        server += ["-c", setting]
    # SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for every client to disconnect).
    procs.start("postgres", [*prefix, *server], stop_signal=signal.SIGINT)

    def connect() -> Any:
        try:
            return psycopg2.connect(host=LOOPBACK, port=port, user="airflow", dbname="postgres")
        except psycopg2.OperationalError:
            return None

    conn = wait_until("PostgreSQL to accept connections", connect, 60, procs)
    conn.autocommit = True
    with conn.cursor() as cur:
        for database in databases:
            cur.execute(f'CREATE DATABASE "{database}"')
    conn.close()
    return f"postgresql+psycopg2://airflow@{LOOPBACK}:{port}"


def remove_pgdata(workdir: Path) -> None:
    marker = workdir / "pgdata-path"
    if marker.exists():
        shutil.rmtree(marker.read_text(), ignore_errors=True)


def start_mlflow(procs: Processes, workdir: Path, backend_store_uri: str) -> str:
    """Start an MLflow tracking server as docker-compose.yaml's mlflow service does; return its URL."""
    port = free_port()
    artifacts = workdir / "mlflow-artifacts"
    artifacts.mkdir()
    mlflow = str(Path(sys.executable).parent / "mlflow")
    argv = [mlflow, "server", f"--host={LOOPBACK}", f"--port={port}", "--workers=1"]
    argv += [f"--backend-store-uri={backend_store_uri}", "--serve-artifacts"]
    argv += [f"--artifacts-destination={artifacts}", f"--allowed-hosts={LOOPBACK},{LOOPBACK}:*"]
    procs.start("mlflow", argv, stop_timeout=10)
    return f"http://{LOOPBACK}:{port}"


def mlflow_healthy(url: str) -> bool:
    return httpx.get(f"{url}/health", timeout=5).status_code == 200


def start_redis(procs: Processes, workdir: Path) -> str:
    """Start a Redis without persistence on a free loopback port; return its URL."""
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no"]
    procs.start("redis", [*argv, "--dir", str(workdir)])

    def ping() -> bool:
        with socket.create_connection((LOOPBACK, port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    wait_until("Redis to answer PING", ping, 30, procs)
    return f"redis://{LOOPBACK}:{port}/0"

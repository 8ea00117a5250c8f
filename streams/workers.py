"""Background worker processes for `make run`: started detached, tracked by pid files under .local/run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WorkerProcess:
    index: int
    pid_file: Path
    log_file: Path

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            return None
        return pid if b"worker" in cmdline else None  # a recycled pid is not our worker


def worker_processes(run_dir: Path, log_dir: Path, count: int) -> list[WorkerProcess]:
    return [WorkerProcess(i, run_dir / f"worker-{i}.pid", log_dir / f"worker-{i}.log") for i in range(count)]


def start_worker(worker: WorkerProcess, *, web_port: int, env: dict[str, str] | None = None) -> int:
    """Start one detached worker unless it already runs; returns its pid."""
    running = worker.pid()
    if running:
        return running
    worker.pid_file.parent.mkdir(parents=True, exist_ok=True)
    worker.log_file.parent.mkdir(parents=True, exist_ok=True)
    child_env = {**os.environ, **(env or {}), "SOCIALPULSE_WORKER__WEB_PORT": str(web_port)}
    with worker.log_file.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=child_env,
            start_new_session=True,
        )
    worker.pid_file.write_text(str(proc.pid))
    return proc.pid


def stop_worker(worker: WorkerProcess, *, timeout: float = 30.0) -> bool:
    """SIGTERM (the worker flushes and commits), then SIGKILL after `timeout`. True if it was running."""
    pid = worker.pid()
    if not pid:
        worker.pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while worker.pid() and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.2)
    if worker.pid():
        os.kill(pid, signal.SIGKILL)
    worker.pid_file.unlink(missing_ok=True)
    return True


def stop_processes(procs: Sequence[subprocess.Popen[bytes]], *, timeout: float = 40.0) -> None:
    """Workers started as child processes (tests, benchmarks): SIGTERM the live ones, SIGKILL after `timeout`."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def with_children(pid: int) -> list[int]:
    """A live process and its children (a worker's NLP process, streams/runtime/nlp_process.py)."""
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
            pids.append(int(entry.name))
    return pids


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass

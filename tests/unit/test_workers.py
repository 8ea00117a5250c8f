"""Worker process helpers (streams/workers.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from streams.workers import with_children


def test_workers_with_children_lists_the_process_then_its_live_children():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        pids = with_children(os.getpid())
        assert pids[0] == os.getpid() and child.pid in pids[1:]
        assert with_children(child.pid) == [child.pid]
    finally:
        child.kill()
        child.wait()

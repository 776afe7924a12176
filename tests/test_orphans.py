"""A batch killed with kill -9 leaves no process behind: workers and the resource tracker follow it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil

from tests.conftest import REPO
from tests.test_batch import write_transcript


def command_line(process: psutil.Process) -> str:
    """A process's command line; '' for one that is already gone (a helper the batch ran and ended)."""
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def test_workers_exit_when_the_batch_is_killed(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(40):
        write_transcript(folder / f"s{i}.csv", repeat=20)
    command = [sys.executable, "-m", "trainer", "score", str(folder), "--out", str(tmp_path / "out"), "--workers", "2"]
    main = subprocess.Popen(command, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), stderr=subprocess.DEVNULL)
    parent = psutil.Process(main.pid)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            children = parent.children(recursive=True)
            workers = [c for c in children if "spawn_main" in command_line(c)]
            if len(workers) == 2:
                break
            assert main.poll() is None, "the batch ended before its workers could be seen"
            time.sleep(0.2)
        assert len(workers) == 2, children
        os.kill(main.pid, signal.SIGKILL)
        main.wait()
        _, alive = psutil.wait_procs(children, timeout=5)
    finally:
        main.kill()
    assert not alive, [(p.pid, p.cmdline()) for p in alive]

"""A child process killed at a known point: how the tests make the crashes they recover from."""

from __future__ import annotations

import signal
import subprocess
import sys


def kill_when_ready(script: str, *args: str) -> str:
    """Run ``script`` (Python source) with ``args``; when it prints its first line -- the point it
    announces, e.g. mid-write -- SIGKILL it. Returns that line (without its newline); asserts the
    child died of the signal, not of its own accord."""
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        proc.stdout.close()
        proc.stdin.close()
    assert proc.returncode == -signal.SIGKILL, f"the child exited with {proc.returncode} before it was killed"
    return line.rstrip("\n")

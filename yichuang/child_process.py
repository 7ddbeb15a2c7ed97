"""Stopping a child process the one way every part of Yichuang does: ask it to stop (SIGTERM,
so it can say `offline`, close its database and flush its log), wait, and only then insist
(SIGKILL): a child that hangs must not hang its parent's shutdown."""

from __future__ import annotations

import subprocess
from typing import Any

__all__ = ["stop_child"]


def stop_child(proc: subprocess.Popen[Any], timeout_s: float) -> bool:
    """Stop `proc` (SIGTERM, then SIGKILL after `timeout_s`); True when SIGTERM sufficed or it
    had already exited, False when it had to be killed."""
    if proc.poll() is not None:
        return True
    proc.terminate()
    try:
        proc.wait(timeout_s)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False

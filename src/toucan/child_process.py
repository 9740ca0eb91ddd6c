"""What a child process the stack starts does first (run as `preexec_fn`, after fork)."""

from __future__ import annotations

import ctypes
import os

PR_SET_PDEATHSIG = 1


def own_group_dying_with_parent(signal_number: int) -> None:
    """Lead a new process group (so the whole group can be stopped at once) and receive
    `signal_number` when the parent dies, even by SIGKILL (Linux)."""
    os.setsid()
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal_number)

"""The seccomp filter of the builder-code sandbox, built with libseccomp.

It refuses the calls a confined program has no use for and that widen the kernel's attack
surface (tracing, keyrings, BPF, io_uring, namespaces — unshare, setns and clone with a
CLONE_NEW* flag —, mounts, memfd). Where no cgroup can be
made it also refuses new processes (threads pass): the sandbox stays one process, so its
address-space limit (RLIMIT_AS) bounds the memory of the whole sandbox.
"""

from __future__ import annotations

import errno
import functools
import os
import tempfile

import pyseccomp as seccomp

CLONE_THREAD = 0x00010000
# clone flags that make a namespace: refused whatever else the call asks (unshare and setns are
# refused whole). With them no user namespace can be made inside the sandbox, which bwrap's
# --disable-userns would also ensure, but only by writing /proc/sys, read-only in containers.
CLONE_NEW = {
    "user": 0x10000000,
    "mount": 0x00020000,
    "pid": 0x20000000,
    "network": 0x40000000,
    "uts": 0x04000000,
    "ipc": 0x08000000,
    "cgroup": 0x02000000,
}

# Refused with EPERM: process creation, and calls outside what pandas and Python need.
PROCESS_CREATION = ("fork", "vfork")
REFUSED = (
    "memfd_create",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "userfaultfd",
    "perf_event_open",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "kexec_load",
    "init_module",
    "finit_module",
    "delete_module",
    "acct",
    "swapon",
    "swapoff",
    "reboot",
)


@functools.cache
def filter_program(allow_processes: bool) -> bytes:
    """The compiled BPF program, as bwrap's `--seccomp FD` reads it."""
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in REFUSED if allow_processes else REFUSED + PROCESS_CREATION:
        try:
            rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (ValueError, OSError):  # a call this architecture does not have
            continue
    for flag in CLONE_NEW.values():
        rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    if not allow_processes:
        # clone: threads (CLONE_THREAD) pass, a new process is refused.
        rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
    # clone3 passes its flags in memory a filter cannot read: ENOSYS makes the C library fall back to clone.
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    with tempfile.TemporaryFile() as out:
        rules.export_bpf(out)
        out.seek(0)
        return out.read()


def filter_fd(allow_processes: bool) -> int:
    """A readable file descriptor holding the filter (the caller passes it to bwrap, then closes it)."""
    program = filter_program(allow_processes)
    read, write = os.pipe()
    # The program is a few hundred bytes: it fits the pipe's buffer, the write does not block.
    os.write(write, program)
    os.close(write)
    return read

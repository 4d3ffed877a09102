# SPDX-License-Identifier: Apache-2.0
"""Starting processes inside a simulated pod or node, the way a container runtime would place them.

A pod's process must be in the pod's network namespace AND in its container cgroup from its first instruction,
because the BPF program reads the cgroup of the socket's creator at connect() time: a process that joined late
would be attributed to whatever cgroup it came from. So the cgroup is joined between fork and exec (the child
writes "0" to cgroup.procs), and `nsenter` enters the namespace before it execs the workload. Capabilities are
containerd's default set, applied by `setpriv` after nsenter (which itself needs CAP_SYS_ADMIN to call setns).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Callable, Optional, Sequence

from .cgroups import join_self

NSENTER = shutil.which("nsenter") or "/usr/bin/nsenter"
SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"
NETNS_DIR = "/run/netns"

# containerd's default capability set (oci.defaultUnixCaps): no SYS_ADMIN, NET_ADMIN or BPF, so a simulated pod
# cannot touch BPF programs, routes or cgroups, just as a real unprivileged pod cannot.
CONTAINERD_CAPS = ("chown", "dac_override", "fsetid", "fowner", "mknod", "net_raw", "setgid", "setuid",
                   "setfcap", "setpcap", "net_bind_service", "sys_chroot", "kill", "audit_write")


def container_caps(net_raw: bool = True) -> tuple[str, ...]:
    return tuple(c for c in CONTAINERD_CAPS if net_raw or c != "net_raw")


def netns_path(name: str) -> str:
    return os.path.join(NETNS_DIR, name)


def wrap(argv: Sequence[str], netns: str, caps: Optional[Sequence[str]] = None) -> list[str]:
    """The command line that runs argv in netns, with exactly `caps` (None: keep root's full set)."""
    if isinstance(argv, (str, bytes)):
        raise TypeError("argv must be a list of strings, not a shell string")
    cmd = [NSENTER, f"--net={netns_path(netns)}", "--"]
    if caps is not None:
        # For uid 0, execve gives permitted = inheritable | bounding set, so both are cut to `caps`; ambient
        # keeps the same set across a later exec of a non-root program.
        spec = ",".join(["-all"] + [f"+{c}" for c in caps])
        cmd += [SETPRIV, f"--inh-caps={spec}", f"--ambient-caps={spec}", f"--bounding-set={spec}", "--"]
    return cmd + [str(a) for a in argv]


def spawn(argv: Sequence[str], netns: str, cgroup: Optional[Path], caps: Optional[Sequence[str]],
          **popen_kwargs) -> subprocess.Popen:
    """Popen in netns (and cgroup, if given), in a new session so its whole process group can be killed."""
    popen_kwargs.setdefault("start_new_session", True)
    user_preexec = popen_kwargs.pop("preexec_fn", None)
    preexec = user_preexec
    if cgroup is not None:
        target = str(cgroup)

        def preexec() -> None:
            join_self(Path(target))
            if user_preexec is not None:
                user_preexec()
    return subprocess.Popen(wrap(argv, netns, caps), preexec_fn=preexec, **popen_kwargs)


def exec_in(argv: Sequence[str], netns: str, cgroup: Optional[Path], caps: Optional[Sequence[str]]) -> None:
    """Replace the calling process (the CLI) with argv placed as spawn() would place it; does not return."""
    cmd = wrap(argv, netns, caps)
    if cgroup is not None:
        join_self(cgroup)
    os.execv(cmd[0], cmd)


def run(start: Callable[..., subprocess.Popen], timeout: Optional[float], input: Optional[str], check: bool,
        env: Optional[dict]) -> subprocess.CompletedProcess:
    """subprocess.run() semantics (text, output captured) for a process that `start(**popen_kwargs)` starts;
    on timeout its whole process group is killed. Without input, stdin is /dev/null, never the terminal."""
    proc = start(stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL, stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE, text=True, env=env)
    with proc:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            kill_group(proc.pid, None)
            out, err = proc.communicate()
            raise subprocess.TimeoutExpired(proc.args, e.timeout, output=out, stderr=err) from None
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    if check:
        result.check_returncode()
    return result


def start_time(pid: int) -> Optional[int]:
    """Clock ticks after boot at which pid started (field 22 of /proc/pid/stat); None when it is gone.

    Stored next to each pid so that a later kill (perhaps from another process, reading a state file) can tell
    our process from an unrelated one that got the same pid.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may hold spaces and ')', so count fields after the last ')'.
    return int(stat.rpartition(")")[2].split()[19])


def kill_group(pid: int, started: Optional[int]) -> None:
    """SIGKILL the process group we created with pid as its leader.

    If the leader still exists it must be ours (same start time, when known). If it is gone, the group id cannot
    have been handed to another process while any member of our group lives, so killing the group is still safe.
    """
    now = start_time(pid)
    if now is not None and started is not None and now != started:
        return
    for kill, target in ((os.killpg, pid), (os.kill, pid if now is not None else None)):
        # The second, plain kill covers a caller that asked for start_new_session=False (no group of its own).
        if target is None:
            continue
        try:
            kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

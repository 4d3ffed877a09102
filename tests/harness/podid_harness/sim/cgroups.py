# SPDX-License-Identifier: Apache-2.0
"""cgroup v2 directories on the real kernel: find the hierarchy, make directories, empty and remove a subtree.

The BPF programs attach to, and `bpf_get_current_cgroup_id()` reports, cgroups of the v2 hierarchy only, so
everything here works on the cgroup2 mount, wherever it is: `/sys/fs/cgroup` on a unified node,
`/sys/fs/cgroup/unified` on a hybrid one. It is found in /proc/self/mountinfo, never assumed.
"""
from __future__ import annotations

import errno
import os
import re
import signal
import time
from pathlib import Path

_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash in paths as \ooo.
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def find_cgroup2_mount(mountinfo: str = "/proc/self/mountinfo") -> Path:
    """The mount point of the cgroup v2 hierarchy; RuntimeError when there is none (a pure v1 host)."""
    with open(mountinfo, encoding="utf-8") as f:
        for line in f:
            # Optional fields sit between field 6 and the lone "-"; the file system type follows the "-".
            left, sep, right = line.partition(" - ")
            if not sep:
                continue
            if right.split()[0] == "cgroup2":
                return Path(_unescape(left.split()[4]))
    raise RuntimeError("no cgroup2 mount in " + mountinfo + ": podid needs the cgroup v2 hierarchy")


def cgroup_id(path: Path) -> int:
    """The kernel's cgroup id of a v2 directory: its inode number on 64-bit kernels since 5.5."""
    return os.stat(path).st_ino


def make_dirs(root: Path, relative_dirs) -> None:
    """Create each directory (parents first); an existing one is fine, as when two pods share a QoS slice."""
    for rel in relative_dirs:
        (root / rel).mkdir(parents=True, exist_ok=True)


def procs_of(path: Path) -> list[int]:
    try:
        return [int(p) for p in (path / "cgroup.procs").read_text().split()]
    except FileNotFoundError:
        return []


def _populated(path: Path) -> bool:
    try:
        for line in (path / "cgroup.events").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "populated":
                return value.strip() == "1"
    except FileNotFoundError:
        return False
    return bool(procs_of(path))


def kill_subtree(path: Path, wait_s: float = 5.0) -> bool:
    """SIGKILL every process in the subtree and wait until the kernel reports it empty; True when empty.

    Every process in the subtree was put there by the harness (the subtree carries the run's random name), so
    killing them all is killing only what we started.
    """
    if not path.is_dir():
        return True
    kill_file = path / "cgroup.kill"
    deadline = time.monotonic() + wait_s
    while _populated(path):
        if kill_file.exists():          # kernel 5.14+: one write kills the whole subtree, forks included
            kill_file.write_text("1")
        else:
            for dirpath, _dirs, _files in os.walk(path):
                for pid in procs_of(Path(dirpath)):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def remove_tree(path: Path) -> list[str]:
    """Kill what runs in the subtree, then rmdir it bottom-up; returns what could not be removed."""
    if not path.exists():
        return []
    if not kill_subtree(path):
        return [f"cgroup {path}: processes still alive after SIGKILL"]
    problems = []
    for dirpath, _dirs, _files in os.walk(path, topdown=False):   # children before their parents
        for attempt in range(50):
            try:
                os.rmdir(dirpath)
                break
            except FileNotFoundError:
                break
            except OSError as e:
                # EBUSY can linger for a moment after the last task exits; anything else is a real failure.
                if e.errno != errno.EBUSY or attempt == 49:
                    problems.append(f"cgroup {dirpath}: {e.strerror}")
                    break
                time.sleep(0.02)
    return problems


def join_self(path: Path) -> None:
    """Move the calling process into the cgroup; safe between fork and exec (only open and write)."""
    fd = os.open(os.path.join(path, "cgroup.procs"), os.O_WRONLY)
    try:
        os.write(fd, b"0")
    finally:
        os.close(fd)

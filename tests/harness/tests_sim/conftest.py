# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the simulated node tests: root gate, a node per test, and tiny TCP peers run inside it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from podid_harness.privileged import require_root
from podid_harness.sim import Node, find_cgroup2_mount

# A server that binds (addr, 0), prints the port the kernel chose, and answers "ok" to each connection.
SERVER = ("import socket,sys\n"
          "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
          "s.bind((sys.argv[1], 0)); s.listen(16); print(s.getsockname()[1], flush=True)\n"
          "while True:\n"
          "    c,_=s.accept(); c.sendall(b'ok'); c.close()\n")
# A client with a 1 s budget that prints "connected ok" or "error <ERRNO name | timeout>".
CLIENT = ("import errno,socket,sys\n"
          "s=socket.socket(); s.settimeout(1)\n"
          "try:\n"
          "    s.connect((sys.argv[1], int(sys.argv[2]))); print('connected', s.recv(16).decode())\n"
          "except OSError as e:\n"
          "    print('error', errno.errorcode.get(e.errno, 'timeout') if e.errno else 'timeout')\n")


@pytest.fixture
def root():
    require_root("simulated nodes and pods")


@pytest.fixture
def node(root):
    with Node.create(name="node-a") as n:
        yield n


def start_server(where, addr: str) -> tuple[int, subprocess.Popen]:
    """Start SERVER in a pod or node (anything with popen()); the node kills it at cleanup."""
    p = where.popen([sys.executable, "-c", SERVER, addr], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.strip().isdigit(), f"server did not start: {line!r}"
    return int(line), p


def connect(where, addr: str, port: int) -> str:
    r = where.run([sys.executable, "-c", CLIENT, addr, str(port)], timeout=10)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def leftovers(prefix: str) -> list[str]:
    """Every netns, host link and cgroup that carries the run prefix."""
    found = [f"netns {n}" for n in (os.listdir("/run/netns") if os.path.isdir("/run/netns") else [])
             if n.startswith(prefix)]
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    found += [f"link {line}" for line in links.splitlines() if prefix in line]
    found += [f"cgroup {p}" for p in Path(find_cgroup2_mount()).iterdir() if p.name.startswith(prefix)]
    return found

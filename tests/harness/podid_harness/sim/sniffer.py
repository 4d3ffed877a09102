# SPDX-License-Identifier: Apache-2.0
"""Counts what reaches an interface: run in the fabric (the node's uplink seen from Azure's side), it proves
whether any frame for a metadata-service address got off the node. Prints "ready", then on SIGTERM or after
--seconds one JSON line: every IP frame whose destination is one of --dst, with its source.

    python3 sniffer.py --iface vnet0 --dst 169.254.169.254 --dst 168.63.129.16 [--seconds 30]
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from podid_harness.sim import frames as fr  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iface", required=True)
    p.add_argument("--dst", action="append", required=True)
    p.add_argument("--seconds", type=float, default=120.0)
    a = p.parse_args(argv)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    sock = fr.PacketSocket(a.iface)
    wanted = set(a.dst) | {"64:ff9b::" + d for d in a.dst} | {"::ffff:" + d for d in a.dst}
    seen = []
    print("ready", flush=True)
    deadline = time.monotonic() + a.seconds
    while not stop["now"] and time.monotonic() < deadline:
        for f in sock.frames(min(deadline, time.monotonic() + 0.1)):
            if f.ethertype in (fr.ETH_P_IP, fr.ETH_P_IPV6) and f.dst in wanted:
                seen.append({"src": f.src, "dst": f.dst, "proto": f.proto, "sport": f.sport, "dport": f.dport,
                             "src_mac": fr.mac_text(f.src_mac)})
    print(json.dumps({"frames": seen}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

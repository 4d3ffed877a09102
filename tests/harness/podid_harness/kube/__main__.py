# SPDX-License-Identifier: Apache-2.0
"""`python3 -m podid_harness.kube serve --kubeconfig-out PATH --port-file PATH`: the stand-in for shell use.
Prints its URL, writes the kubeconfig (admin token) and port file, and runs until SIGTERM or SIGINT."""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from .api import KubeApiServer


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m podid_harness.kube")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run the API server stand-in")
    s.add_argument("--host", default="127.0.0.1", help="loopback or a test namespace's address")
    s.add_argument("--port", type=int, default=0, help="0 = chosen at run time")
    s.add_argument("--kubeconfig-out", help="write a kubeconfig with the admin token here")
    s.add_argument("--port-file", help="write the chosen port here (after the server listens)")
    s.add_argument("--history-window", type=int, default=1000)
    s.add_argument("--bookmark-interval", type=float, default=1.0)
    args = ap.parse_args(argv)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with KubeApiServer.start(history_window=args.history_window, host=args.host, port=args.port,
                             bookmark_interval_s=args.bookmark_interval) as api:
        if args.kubeconfig_out:
            api.kubeconfig(args.kubeconfig_out)
        if args.port_file:
            with open(args.port_file, "w") as f:
                f.write(f"{api.port}\n")
        print(api.url, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())

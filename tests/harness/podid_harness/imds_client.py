# SPDX-License-Identifier: Apache-2.0
"""A small IMDS client to run *inside* a simulated pod (standard library only; no podid_harness import, so it
runs as a plain script under /usr/bin/python3 in the pod's netns and cgroup).

It talks HTTP/1.1 to 169.254.169.254:80 as an SDK would, so the kernel redirects it to podid-agent. Paths are
sent verbatim (no normalisation), so malformed paths reach the agent as written.

    python3 imds_client.py '<json>'        batch: run the requests, print one JSON list of results
    python3 imds_client.py --interactive '<json>'
                                           one JSON request per stdin line, one JSON result per stdout line,
                                           all on one keep-alive connection (opened on the first request)

Config JSON: {"host": "169.254.169.254", "port": 80, "timeout": 10, "keepalive": true,
              "bind": "10.244.1.2" (source address), "freebind": false (IP_FREEBIND), "transparent": false
              (IP_TRANSPARENT, needs CAP_NET_RAW: unlike FREEBIND, the kernel then also routes packets whose
              source is not a local address, so a foreign source really goes out),
              "requests": [{"path": "/metadata/...", "method": "GET", "headers": {"Metadata": "true"}}, ...],
              "repeat": 1}
Result: {"status": 200, "headers": {lower-cased: value}, "body": "...", "elapsed_ms": 1.2}
        or {"status": null, "error": "ConnectionRefusedError: ...", "elapsed_ms": ...}
"""
from __future__ import annotations

import http.client
import json
import socket
import sys
import time

IP_FREEBIND = 15
IP_TRANSPARENT = 19


class _Conn(http.client.HTTPConnection):
    def __init__(self, cfg: dict) -> None:
        super().__init__(cfg.get("host", "169.254.169.254"), cfg.get("port", 80), timeout=cfg.get("timeout", 10))
        self._bind, self._freebind = cfg.get("bind"), cfg.get("freebind", False)
        self._transparent = cfg.get("transparent", False)

    def connect(self) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.settimeout(self.timeout)
            if self._freebind:
                s.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
            if self._transparent:
                s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
            if self._bind:
                s.bind((self._bind, 0))
            s.connect((self.host, self.port))
        except BaseException:
            s.close()
            raise
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = s


def _one(conn: _Conn, req: dict, keepalive: bool) -> dict:
    started = time.monotonic()
    try:
        conn.putrequest(req.get("method", "GET"), req["path"], skip_host=True, skip_accept_encoding=True)
        headers = {"Host": "169.254.169.254", **req.get("headers", {})}
        if not keepalive:
            headers.setdefault("Connection", "close")
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        body = r.read().decode("utf-8", "replace")
        out = {"status": r.status, "headers": {k.lower(): v for k, v in r.getheaders()}, "body": body}
        if not keepalive or r.will_close:
            conn.close()
    except Exception as e:  # noqa: BLE001 - the caller wants the failure as data
        conn.close()
        out = {"status": None, "error": f"{type(e).__name__}: {e}"}
    out["elapsed_ms"] = round((time.monotonic() - started) * 1000, 3)
    return out


def main(argv: list[str]) -> int:
    interactive = argv[:1] == ["--interactive"]
    cfg = json.loads((argv[1:] if interactive else argv)[0] if len(argv) > interactive else "{}")
    keepalive = cfg.get("keepalive", True)
    conn = _Conn(cfg)
    if interactive:
        print(json.dumps({"ready": True}), flush=True)
        for line in sys.stdin:
            if not line.strip():
                continue
            print(json.dumps(_one(conn, json.loads(line), True)), flush=True)
        return 0
    results = []
    for _ in range(cfg.get("repeat", 1)):
        for req in cfg.get("requests", []):
            results.append(_one(conn, req, keepalive))
    conn.close()
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

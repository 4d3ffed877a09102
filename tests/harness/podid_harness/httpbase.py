# SPDX-License-Identifier: Apache-2.0
"""The one HTTP(S) server base every emulator uses.

An emulator subclasses `Handler`, registers routes with `route()`, and is run by `EmulatorServer`, which binds
an address chosen at run time (port 0 by default) on loopback or a test namespace's address, serves each
connection on its own thread, and stops cleanly. Nothing here knows about Azure or Kubernetes.

`netns=` binds the listening socket inside a named network namespace (/run/netns/<name>, e.g. a simulated
node's): only the creating thread switches namespace, and only while the socket is made; the socket keeps that
namespace for its whole life, so the serving threads run in this process's own namespace.
"""
from __future__ import annotations

import contextlib
import ctypes
import http.server
import json
import os
import re
import select
import socket
import socketserver
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional
from urllib.parse import parse_qs, urlsplit

# Addresses an emulator may bind. Anything else is refused: tests must never listen on, or be reached at, an
# address off this machine.
_ALLOWED_BIND_PREFIXES = ("127.", "::1", "169.254.", "10.", "fd")

LISTEN_BACKLOG = 1024              # every emulator's listen queue (see _ThreadingServer)
NETNS_DIR = "/run/netns"          # where `ip netns add` (and podid_harness.sim) name network namespaces
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class NetnsError(OSError):
    """Entering a network namespace failed, or (worse) leaving it did."""


def _setns(fd: int, what: str) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise NetnsError(err, f"setns({what}): {os.strerror(err)}")


@contextlib.contextmanager
def thread_in_netns(name: Optional[str]):
    """Run the block with the *calling thread* in network namespace `name` (None: stay where we are).

    setns(2) moves only the calling thread, so other threads of this process (a test's own sockets, other
    emulators) are unaffected. The thread's previous namespace is restored on every exit path; if even that
    fails the thread is unusable and NetnsError says so.
    """
    if name is None:
        yield
        return
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"netns {name!r} is not a plain namespace name")
    saved = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(os.path.join(NETNS_DIR, name), os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target, name)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(saved, "back to this thread's own namespace")
    finally:
        os.close(saved)


@dataclass
class Request:
    """One parsed request, as route functions see it."""
    method: str
    path: str                     # path only, percent-decoding left to the route
    query: dict[str, list[str]]   # parse_qs of the query string, keys as sent (case kept)
    headers: dict[str, str]       # header names lower-cased
    body: bytes
    client: tuple[str, int]
    raw_path: str = ""            # path with query, as on the request line
    peer_cert: Optional[dict] = None   # the verified TLS client certificate (ssl getpeercert() form), if any

    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        return self.headers.get(name.lower(), default)

    def json(self):
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    reset: bool = False           # close the connection without answering (fault injection)
    delay_s: float = 0.0          # sleep before answering (fault injection)
    # When set, the body is sent with `Transfer-Encoding: chunked`, one chunk per item, flushed as produced
    # (watch streams). An empty item sends nothing: it only lets the server notice a client that went away.
    # The iterable may raise StreamAborted to cut the connection without the closing chunk.
    stream: Optional[Iterable[bytes]] = None

    @staticmethod
    def json(status: int, obj, headers: Optional[list[tuple[str, str]]] = None,
             content_type: str = "application/json; charset=utf-8") -> "Response":
        body = json.dumps(obj, separators=(",", ":")).encode()
        return Response(status, body, [("Content-Type", content_type)] + list(headers or []))

    @staticmethod
    def text(status: int, text: str, content_type: str = "text/plain; charset=utf-8",
             headers: Optional[list[tuple[str, str]]] = None) -> "Response":
        return Response(status, text.encode(), [("Content-Type", content_type)] + list(headers or []))


class StreamAborted(Exception):
    """Raised by a response stream to drop the connection mid-body, as a crashed or restarted server would."""


Route = Callable[[Request, re.Match], Response]


class Router:
    """Ordered (method, path regex) -> route function. First match wins; regexes are anchored."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern, Route]] = []

    def add(self, method: str, pattern: str, fn: Route, flags: int = 0) -> None:
        self._routes.append((method.upper(), re.compile(pattern + r"\Z", flags), fn))

    def dispatch(self, req: Request) -> Optional[Response]:
        path_matched = False
        for method, rx, fn in self._routes:
            m = rx.match(req.path)
            if not m:
                continue
            path_matched = True
            if method in ("*", req.method):
                return fn(req, m)
        if path_matched:
            return Response.json(405, {"error": "method not allowed"})
        return None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "podid-harness"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet; emulators keep their own request logs
        pass

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _peer_gone(self) -> bool:
        # A readable socket with nothing to read is a closed peer; clients send nothing while a stream runs.
        conn = self.connection
        try:
            readable, _, _ = select.select([conn], [], [], 0)
            if not readable:
                return False
            if isinstance(conn, ssl.SSLSocket):
                # TLS cannot peek; a streaming client sends nothing we would need, so reading is harmless.
                conn.setblocking(False)
                try:
                    return conn.recv(1) == b""
                except ssl.SSLWantReadError:
                    return False
                finally:
                    conn.setblocking(True)
            return conn.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _send_stream(self, chunks: Iterable[bytes]) -> None:
        it = iter(chunks)
        try:
            for chunk in it:
                if not chunk:
                    if self._peer_gone():
                        raise ConnectionResetError("peer closed the stream")
                    continue
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except (StreamAborted, OSError):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()  # lets a generator's finally clauses run (unregister watchers)

    def _serve(self) -> None:
        split = urlsplit(self.path)
        body = self._read_body()
        req = Request(method=self.command, path=split.path,
                      query=parse_qs(split.query, keep_blank_values=True),
                      headers={k.lower(): v for k, v in self.headers.items()}, body=body,
                      client=self.client_address[:2], raw_path=self.path,
                      peer_cert=self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket)
                      else None)
        resp = self.server.emulator.handle(req)  # type: ignore[attr-defined]
        if resp.delay_s:
            time.sleep(resp.delay_s)
        if resp.reset:
            self.close_connection = True
            try:
                import socket as _s
                self.connection.setsockopt(_s.SOL_SOCKET, _s.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
            return
        self.send_response(resp.status)
        names = {k.lower() for k, _ in resp.headers}
        for k, v in resp.headers:
            self.send_header(k, v)
        if resp.stream is not None:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._send_stream(resp.stream)
            return
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


class _ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver listens with a backlog of 5: a burst of clients (many pods' first tokens, a benchmark)
    # overflows it, and each dropped SYN costs its client a 1 s retransmit. What a real service's would hold.
    request_queue_size = LISTEN_BACKLOG

    def server_activate(self) -> None:
        self.open_connections: set = set()     # accepted sockets still open, for cut_connections()
        self._conn_lock = threading.Lock()
        super().server_activate()

    def process_request(self, request, client_address) -> None:
        with self._conn_lock:
            self.open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._conn_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        with self._conn_lock:
            conns = list(self.open_connections)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _ThreadingServer6(_ThreadingServer):
    import socket as _socket
    address_family = _socket.AF_INET6


class EmulatorServer:
    """Runs one emulator (an object with `handle(Request) -> Response`) on a thread.

    Use as a context manager, or call start()/stop(). `url` is known once started.
    """

    def __init__(self, emulator, host: str = "127.0.0.1", port: int = 0,
                 tls: Optional[ssl.SSLContext] = None, netns: Optional[str] = None) -> None:
        """`netns`: name of a network namespace (under /run/netns) to listen in instead of this process's."""
        if not host.startswith(_ALLOWED_BIND_PREFIXES):
            raise ValueError(f"refusing to bind {host!r}: emulators listen on loopback or test namespaces only")
        self._emulator = emulator
        self._host, self._port, self._tls, self.netns = host, port, tls, netns
        self._httpd: Optional[_ThreadingServer] = None
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "EmulatorServer":
        cls = _ThreadingServer6 if ":" in self._host else _ThreadingServer
        # The socket is created (and bound) inside the namespace and stays there; accept() and the handler
        # threads need not be in it.
        with thread_in_netns(self.netns):
            httpd = cls((self._host, self._port), _Handler)
        httpd.emulator = self._emulator  # type: ignore[attr-defined]
        if self._tls is not None:
            httpd.socket = self._tls.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        # A short poll interval makes stop() quick; suites start and stop hundreds of servers.
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=type(self._emulator).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self, cut_connections: bool = False) -> None:
        """Stop listening. Connections already accepted finish their current exchange (keep-alive ones may go
        on) unless `cut_connections`, which shuts each of them down as a crashed server's would be."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            if cut_connections:
                self._httpd.cut_connections()
            self._httpd = None

    @property
    def port(self) -> int:
        assert self._httpd is not None, "not started"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        scheme = "https" if self._tls is not None else "http"
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{scheme}://{host}:{self.port}"

    def __enter__(self) -> "EmulatorServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

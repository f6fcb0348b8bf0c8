"""A tiny loopback HTTP proxy that records what it is asked: CONNECT tunnels (HTTPS) are opened and relayed, plain
absolute-form requests (HTTP through a proxy) are recorded and refused with 502 - nothing in these scenarios may
send plain HTTP through a proxy (the managed-identity endpoint must be reached directly)."""
from __future__ import annotations

import contextlib
import select
import socket
import socketserver
import threading
from collections.abc import Iterator


class _Handler(socketserver.StreamRequestHandler):
    server: _ProxyServer

    def handle(self) -> None:
        request_line = self.rfile.readline(65537).decode('latin-1').strip()
        while self.rfile.readline(65537).strip():  # the request headers
            pass
        parts = request_line.split()
        if len(parts) < 2:
            return
        method, target = parts[0].upper(), parts[1]
        self.server.seen.append((method, target))
        if method != 'CONNECT':
            self.wfile.write(b'HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
            return
        host, _, port = target.rpartition(':')
        try:
            upstream = socket.create_connection((host.strip('[]'), int(port)), timeout=10)
        except (OSError, ValueError):
            self.wfile.write(b'HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n')
            return
        self.wfile.write(b'HTTP/1.1 200 Connection established\r\n\r\n')
        self.wfile.flush()
        self._relay(self.connection, upstream)

    @staticmethod
    def _relay(client: socket.socket, upstream: socket.socket) -> None:
        sockets = [client, upstream]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 30)
                if not readable:
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)
        except OSError:
            return
        finally:
            upstream.close()


class _ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(('127.0.0.1', 0), _Handler)
        self.seen: list[tuple[str, str]] = []


@contextlib.contextmanager
def recording_proxy() -> Iterator[_ProxyServer]:
    """A running proxy on 127.0.0.1 (its URL: `http://127.0.0.1:<server.server_address[1]>`); `.seen` lists
    (method, target) of every request it received."""
    server = _ProxyServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()

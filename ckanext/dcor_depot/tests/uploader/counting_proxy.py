"""A TCP proxy in front of the CKAN site that counts the bytes the site
receives: proof that a browser upload sends no file byte through CKAN."""
from __future__ import annotations

import socket
import socketserver
import threading


class CountingProxy:
    """Forwards 127.0.0.1:port to `upstream` and counts client->site
    bytes (`received`)."""

    def __init__(self, upstream_port: int, port: int = 0) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.received = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                with socket.create_connection(proxy.upstream) as upstream:
                    back = threading.Thread(
                        target=proxy._pump, args=(upstream, self.request,
                                                  False), daemon=True)
                    back.start()
                    proxy._pump(self.request, upstream, True)
                    back.join(60)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", port),
                                                      Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def _pump(self, source, target, count: bool) -> None:
        try:
            while data := source.recv(65536):
                if count:
                    with self._lock:
                        self.received += len(data)
                target.sendall(data)
        except OSError:
            pass
        finally:
            try:
                target.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def reset(self) -> int:
        with self._lock:
            received, self.received = self.received, 0
        return received

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

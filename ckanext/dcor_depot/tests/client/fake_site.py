"""A tiny local HTTP server standing in for a broken or hostile site:
answers that a real CKAN site never gives (HTML, paths leaving the
target, a Range ignored, wrong bytes, 503s), so the client's answers to
them can be tested."""
from __future__ import annotations

import hashlib
import http.server
import json
import threading


class FakeSite:
    def __init__(self):
        self.routes = {}       # path -> callable(handler) or (status, headers, body)
        self.requests = []     # (method, path, headers)
        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)

    def _handler(self):
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.split("?")[0]
                site.requests.append(("GET", path, dict(self.headers)))
                route = site.routes.get(path, site.routes.get("*"))
                if route is None:
                    self.answer(404, {"Content-Type": "text/plain"},
                                b"not here")
                elif callable(route):
                    route(self)
                else:
                    self.answer(*route)

            do_POST = do_GET

            def answer(self, status, headers, body):
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def action(self, name, result):
        self.routes[f"/api/3/action/{name}"] = (
            200, {"Content-Type": "application/json"},
            json.dumps({"success": True, "result": result}).encode())

    def logged_in(self):
        self.action("user_show", {"name": "someone"})

    def dataset(self, name, files):
        """A dataset_manifest of `files`: {path: bytes}, each served at
        /file/{n} (ignoring Range)."""
        entries = []
        for number, (path, data) in enumerate(files.items()):
            url = f"/file/{number}"
            self.routes[url] = (200, {"Content-Type": "application/octet-stream"},
                                data)
            entries.append({"path": path, "size": len(data),
                            "sha256": hashlib.sha256(data).hexdigest(),
                            "resource_id": str(number),
                            "url": f"http://elsewhere.invalid{url}"})
        self.action("dataset_manifest", {
            "dataset": name, "complete": True, "files": entries,
            "count": len(entries),
            "total_bytes": sum(len(d) for d in files.values())})
        return entries

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

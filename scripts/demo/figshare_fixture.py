"""The bundled figshare article (figshare-fixture/), served in figshare's
API v2 shape on loopback, so the demo's import never asks the internet."""
from __future__ import annotations

import http.server
import json
import pathlib
import threading
import urllib.parse
from typing import Any

FIXTURE = pathlib.Path(__file__).resolve().parent / "figshare-fixture"


class FigshareFixture:
    """Serves the bundled article in figshare's API v2 shape at `url`."""

    def __init__(self, url: str):
        parsed = urllib.parse.urlsplit(url)
        base = url.rstrip("/")
        routes: dict[str, tuple[str, bytes]] = {}
        for article_file in FIXTURE.glob("article-*.json"):
            text = article_file.read_text().replace("{base}", base)
            article = json.loads(text)
            routes[f"{parsed.path.rstrip('/')}/articles/{article['id']}"
                   f"/versions/{article['version']}"] = (
                "application/json", text.encode())
            for item in article["files"]:
                routes[urllib.parse.urlsplit(item["download_url"]).path] = (
                    "application/octet-stream",
                    (FIXTURE / "files" / item["name"]).read_bytes())

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path not in routes:
                    self.send_error(404)
                    return
                kind, data = routes[self.path]
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(
            (parsed.hostname, parsed.port), Handler)

    def __enter__(self) -> "FigshareFixture":
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

"""The site's HTTP API (CKAN's `/api/3/action/...`) over one
requests.Session with urllib3's Retry mounted.

Read-only actions go as GET, so that Retry may repeat them after a
connection error, a 5xx or a 429 (honouring Retry-After); actions that
change something go as POST and are repeated only when the connection
could not be made at all (the request never reached the site).
"""
from __future__ import annotations

import logging
import urllib.parse
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .errors import ClientError, NotAuthorized, NotFound

log = logging.getLogger(__name__)

RETRY_STATUSES = (429, 500, 502, 503, 504)
TIMEOUT = (10, 120)  # connect, read (seconds)


def retry_policy(total: int = 6) -> Retry:
    """Transient errors are retried with exponential backoff (0.5 s, 1 s,
    2 s, ... at most 30 s), or after the time the server's Retry-After
    asks for."""
    # an unknown host or a closed port is told after a few seconds
    return Retry(total=total, connect=min(total, 3), read=total,
                 status=total,
                 backoff_factor=0.5, backoff_max=30,
                 status_forcelist=RETRY_STATUSES,
                 allowed_methods=frozenset({"GET", "HEAD", "PUT"}),
                 respect_retry_after_header=True,
                 raise_on_status=False, raise_on_redirect=False)


class LargeBlockAdapter(HTTPAdapter):
    """Request bodies are sent in blocks of 1 MiB (http.client's default
    is 8 KiB): an upload reads, hashes and sends a file in far fewer
    steps."""
    BLOCK_SIZE = 1024**2

    def init_poolmanager(self, *args, **kwargs):
        kwargs["blocksize"] = self.BLOCK_SIZE
        super().init_poolmanager(*args, **kwargs)


def make_session(pool_size: int = 16, retries: int = 6) -> requests.Session:
    session = requests.Session()
    adapter = LargeBlockAdapter(max_retries=retry_policy(retries),
                                pool_connections=pool_size,
                                pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "dcor-depot-client"
    return session


def site_url(site: str | None) -> str:
    """`https://host` for a bare host name; the URL without a trailing
    slash otherwise."""
    if not site or not site.strip():
        raise ClientError("no site given: use --site or DCOR_SITE")
    site = site.strip().rstrip("/")
    if "://" not in site:
        site = f"https://{site}"
    parsed = urllib.parse.urlsplit(site)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ClientError(f"not a site URL: {site!r}")
    return site


def _error_text(error: Any) -> str:
    """CKAN's error object in one line."""
    if not isinstance(error, dict):
        return str(error)
    message = error.get("message")
    fields = [f"{key}: {'; '.join(map(str, value)) if isinstance(value, list) else value}"
              for key, value in error.items()
              if key not in ("__type", "message")]
    text = "; ".join(filter(None, [message, *fields])) or \
        error.get("__type", "error")
    return " ".join(str(text).split())


class Api:
    """One site and one API token."""

    def __init__(self, site: str | None, token: str | None,
                 session: requests.Session | None = None,
                 require_token: bool = True):
        self.site = site_url(site)
        if require_token and not (token and token.strip()):
            raise NotAuthorized("no API token given: use --token or "
                                "DCOR_API_TOKEN")
        self.token = (token or "").strip()
        self.session = session or make_session()

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": self.token} if self.token else {}

    def user_name(self) -> str:
        """The name of the token's user. CKAN treats an unknown token as
        no token at all (anonymous), so this is how a bad one shows."""
        if not hasattr(self, "_user_name"):
            try:
                self._user_name = self.get("user_show")["name"]
            except NotFound:
                raise NotAuthorized(f"the API token is not valid on "
                                    f"{self.site}") from None
        return self._user_name

    def get(self, action: str, **params: Any) -> Any:
        return self._call(action, "GET", params)

    def post(self, action: str, **data: Any) -> Any:
        return self._call(action, "POST", data)

    def _call(self, action: str, method: str, data: dict[str, Any]) -> Any:
        url = f"{self.site}/api/3/action/{action}"
        try:
            if method == "GET":
                response = self.session.get(url, params=data, timeout=TIMEOUT,
                                            headers=self.auth_headers)
            else:
                response = self.session.post(url, json=data, timeout=TIMEOUT,
                                             headers=self.auth_headers)
        except requests.exceptions.RetryError as exc:
            raise ClientError(f"{self.site} kept failing ({action}): "
                              f"{_reason(exc)}") from None
        except requests.RequestException as exc:
            raise ClientError(f"cannot reach {self.site}: "
                              f"{_reason(exc)}") from None
        return self._result(action, response)

    def _result(self, action: str, response: requests.Response) -> Any:
        kind = response.headers.get("Content-Type", "")
        try:
            body = response.json() if "json" in kind else None
        except ValueError:
            body = None
        if not isinstance(body, dict) or "success" not in body:
            raise ClientError(
                f"{self.site} answered {action} with HTTP "
                f"{response.status_code} and {kind.split(';')[0] or 'no content type'}"
                f", not CKAN's JSON: is it a CKAN site?")
        if body["success"]:
            return body["result"]
        error = body.get("error") or {}
        kind = error.get("__type", "") if isinstance(error, dict) else ""
        text = _error_text(error)
        if response.status_code == 403 or kind == "Authorization Error":
            raise NotAuthorized(f"{action} refused by {self.site}: {text} "
                                "(is the API token right?)")
        if response.status_code == 404 or kind == "Not Found Error":
            raise NotFound(f"{action}: {text}")
        raise ClientError(f"{action} failed: {text}")


def _reason(exc: Exception) -> str:
    """The innermost reason of a requests/urllib3 error, in one line."""
    reason: Any = exc
    while True:
        inner = getattr(reason, "reason", None) or (
            reason.args[0] if getattr(reason, "args", None)
            and isinstance(reason.args[0], Exception) else None)
        if inner is None or inner is reason:
            break
        reason = inner
    return " ".join(str(reason).split()) or type(reason).__name__

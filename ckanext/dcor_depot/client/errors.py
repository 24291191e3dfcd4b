"""The client's errors: each carries one line that names the problem."""
from __future__ import annotations


class ClientError(Exception):
    """Bad input or an answer the client cannot use; the CLI prints it as
    one line and exits non-zero."""


class NotFound(ClientError):
    """The site has no such dataset or circle (or hides it from us)."""


class NotAuthorized(ClientError):
    """The token is missing, wrong or may not do this."""


class UploadFailed(ClientError):
    """One file could not be uploaded."""


class Interrupted(ClientError):
    """SIGINT (Ctrl+C): the transfers stopped, .part files were kept."""


def one_line(exc: BaseException) -> str:
    """An exception's message on one bounded line (what the CLI prints)."""
    return " ".join(str(exc).split())[:300] or type(exc).__name__

"""Plugin interfaces of ckanext-dcor_depot."""
from __future__ import annotations

from typing import Any, Iterator, Protocol

from ckan.plugins.interfaces import Interface


class DownloadProvider(Protocol):
    """Answers the download of resources whose bytes live in one kind of
    storage (MyTardis calls these download providers)."""

    name: str  # what ckanext.dcor_depot.download_providers lists

    def can_serve(self, resource: dict[str, Any],
                  dataset: dict[str, Any]) -> bool:
        """Whether this provider holds the resource's bytes."""

    def response(self, resource: dict[str, Any], dataset: dict[str, Any],
                 filename: str | None) -> Any:
        """The answer to a download of one resource (a redirect or a
        stream); the caller has checked that the user may read it."""

    def size(self, resource: dict[str, Any], dataset: dict[str, Any]) -> int:
        """The exact number of bytes `open` yields from offset 0."""

    def open(self, resource: dict[str, Any], dataset: dict[str, Any],
             offset: int) -> Iterator[bytes]:
        """The resource's bytes from `offset` to the end, for archives.

        The iterator is consumed while the response streams, after the
        request context is gone: resolve anything it needs from the
        request (user, config) when it is created, not when it is read."""


class IDownloadProvider(Interface):
    """Register download providers for storages of another extension."""

    def get_download_providers(self) -> list[DownloadProvider]:
        """Providers this plugin offers; each name must be unique."""
        return []

"""Development only: lets a CKAN site without Solr create and update datasets.

CKAN indexes every dataset in Solr. On a development machine with no Solr, the
`dcor_depot_dev_no_solr` plugin swaps the package index for a no-op index and
package search for a search that finds nothing. It does so only when no Solr
answers at `solr_url`; with a Solr present it changes nothing. Never list this
plugin on a production site.
"""
from __future__ import annotations

import collections
import logging
from typing import Any

import requests

import ckan.plugins as p
from ckan.lib import search
from ckan.lib.search.index import NoopSearchIndex, PackageSearchIndex
from ckan.lib.search.query import PackageSearchQuery

log = logging.getLogger(__name__)


class EmptyPackageSearchQuery(PackageSearchQuery):
    """Package search that finds nothing, for sites without Solr."""

    def run(self, query: dict[str, Any], permission_labels: Any = None,
            **kwargs: Any) -> dict[str, Any]:
        self.count = 0
        self.results = []
        # group listings read facet counts by field name
        self.facets = collections.defaultdict(dict)
        return {"results": [], "count": 0, "facets": {},
                "search_facets": {}}

    def get_all_entity_ids(self, max_results: int = 1000) -> list[str]:
        return []


class NoopPackageSearchIndex(PackageSearchIndex):
    """Package index that indexes nothing (CKAN 2.11's bulk actions call
    the index directly)."""

    def index_package(self, pkg_dict: Any, defer_commit: bool = False
                      ) -> None:
        return None

    def delete_package(self, pkg_dict: Any) -> None:
        return None

    def commit(self) -> None:
        return None


def solr_answers(solr_url: str, timeout: float = 2.0) -> bool:
    try:
        requests.get(solr_url.rstrip("/") + "/admin/ping", timeout=timeout)
    except requests.RequestException:
        return False
    return True


def switch_off_package_search() -> None:
    search._INDICES["package"] = NoopSearchIndex
    search._QUERIES["package"] = EmptyPackageSearchQuery
    search.PackageSearchQuery = EmptyPackageSearchQuery
    search.PackageSearchIndex = NoopPackageSearchIndex


class DevNoSolrPlugin(p.SingletonPlugin):
    p.implements(p.IConfigurable, inherit=True)

    def configure(self, config):
        solr_url = config.get("solr_url") or ""
        if solr_url and solr_answers(solr_url):
            log.info("Solr answers at %s; package search stays on", solr_url)
            return
        log.warning("no Solr at %r: package search switched off "
                    "(development only)", solr_url)
        switch_off_package_search()

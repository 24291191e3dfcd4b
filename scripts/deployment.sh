#!/usr/bin/env bash
# The reference deployment of deploy/ on loopback, for any CKAN ini: nginx
# (Debian's, unprivileged, its config and logs in STATE) -> uWSGI -> CKAN,
# and RQ workers as deploy/ckan-worker@.service runs them. Serves until
# Ctrl-C; writes STATE/ready ("NGINX_URL UWSGI_URL") once it answers.
#
#   scripts/deployment.sh --ini SITE.ini --state DIR [--port N (0: free)]
#       [--processes 2] [--threads 4] [--workers 2]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO/scripts/stack.sh" site-up >&2
VENV="$(bash "$REPO/scripts/stack.sh" venv)"
exec "$VENV/bin/python" -m ckanext.dcor_depot.tests.deployment serve "$@"

#!/usr/bin/env bash
# A development CKAN site with ckanext-dcor_depot on http://127.0.0.1:5000,
# a job worker and the local S3 server. Ctrl-C stops the site and the worker.
set -euo pipefail
SITE=dev PORT=5000 REDIS_DB=2 DB=dcor_depot_dev
. "$(dirname "${BASH_SOURCE[0]}")/site-env.sh"
site_prepare
site_start
echo "CKAN:      $SITE_URL  (admin / dcor-dev-admin)"
echo "API token: $STATE/admin-token"
echo "S3:        http://127.0.0.1:7480  (keys: scripts/s3-stack.sh env)"
echo "Logs:      $STATE/site.log $STATE/worker.log"
echo "Ctrl-C stops the site and the worker."
wait "${SITE_PIDS[1]}"

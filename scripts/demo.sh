#!/usr/bin/env bash
# The main job, end to end, on the embedded local stack: starts PostgreSQL,
# Redis, the local S3 server, a CKAN site with the plugin on
# http://127.0.0.1:5055 and a job worker, then runs scripts/demo/demo.py
# against it over HTTP. Exits non-zero if any check fails; can be re-run.
# Extra arguments go to demo.py (e.g. --upload-mb 50).
set -euo pipefail
SITE=demo PORT=5055 REDIS_DB=4 DB=dcor_depot_demo
. "$(dirname "${BASH_SOURCE[0]}")/site-env.sh"
site_prepare "ckanext.dcor_depot.figshare_api_url = http://127.0.0.1:5056/v2"
site_start
echo "CKAN site $SITE_URL and a job worker are up (logs: $STATE/site.log, $STATE/worker.log)"
status=0
"$VENV/bin/python" "$REPO/scripts/demo/demo.py" --ini "$INI" \
  --token-file "$STATE/admin-token" --ckan "$CKAN" "$@" || status=$?
if [ "$status" = 0 ]; then
  echo "demo: all checks passed"
else
  echo "demo: some checks failed (see above; logs in $STATE)" >&2
fi
exit "$status"

#!/usr/bin/env bash
# The main job, end to end, on the embedded local stack, served as
# production serves it: starts PostgreSQL, Redis, the local S3 server and
# the reference deployment of deploy/ (nginx on http://127.0.0.1:5055 ->
# uWSGI with two processes -> CKAN with the plugin, two RQ workers), then
# runs scripts/demo/demo.py against nginx over HTTP. Exits non-zero if any
# check fails; can be re-run. Extra arguments go to demo.py (e.g.
# --upload-mb 50).
set -euo pipefail
SITE=demo PORT=5055 REDIS_DB=4 DB=dcor_depot_demo
. "$(dirname "${BASH_SOURCE[0]}")/site-env.sh"
# depot files are sent by nginx (X-Accel-Redirect), before S3 redirects
site_prepare "ckanext.dcor_depot.figshare_api_url = http://127.0.0.1:5056/v2" \
  "ckanext.dcor_depot.download_accel_redirect = /_dcor_storage/" \
  "ckanext.dcor_depot.download_providers = depot s3"
site_start_deployed 2 2
echo "nginx $SITE_URL -> uWSGI $UWSGI_URL (2 processes) -> CKAN, 2 job workers (logs: $STATE/deploy)"
status=0
"$VENV/bin/python" "$REPO/scripts/demo/demo.py" --ini "$INI" \
  --token-file "$STATE/admin-token" --ckan "$CKAN" \
  --uwsgi-url "$UWSGI_URL" "$@" || status=$?
if [ "$status" = 0 ]; then
  echo "demo: all checks passed"
else
  echo "demo: some checks failed (see above; logs in $STATE)" >&2
fi
exit "$status"

#!/usr/bin/env bash
# A development CKAN site with ckanext-dcor_depot on http://127.0.0.1:5000,
# a job worker and the local S3 server. Ctrl-C stops the site and the worker.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO/scripts/stack.sh" up
VENV="$(bash "$REPO/scripts/stack.sh" venv)"
STATE="$REPO/.stack/dev"
mkdir -p "$STATE/storage" "$STATE/depots" "$STATE/tmp"
INI="$STATE/dev.ini"
# dcor_depot_dev_no_solr switches package search off only if no Solr answers.
sed -e "s|^ckan.site_id = .*|ckan.site_id = dcor_depot_dev|" \
    -e "s|^ckan.site_url = .*|ckan.site_url = http://127.0.0.1:5000|" \
    -e "s|/dcor_depot_test$|/dcor_depot_dev|" \
    -e "s|^ckan.redis.url = .*|ckan.redis.url = redis://127.0.0.1:6379/2|" \
    -e "s|^ckan.plugins = .*|ckan.plugins = dcor_depot dcor_depot_dev_no_solr|" \
    -e "s|^ckan.storage_path = .*|ckan.storage_path = $STATE/storage|" \
    -e "s|^ckanext.dcor_depot.depots_path = .*|ckanext.dcor_depot.depots_path = $STATE/depots\nckanext.dcor_depot.tmp_dir = $STATE/tmp|" \
    -e "s|^ckanext.dcor_depot.users_depot_name = .*|ckanext.dcor_depot.users_depot_name = users-dev|" \
    -e "s|^SECRET_KEY = .*|SECRET_KEY = dcor-depot-dev-secret-not-for-production|" \
    "$REPO/test.ini" > "$INI"
CKAN="$VENV/bin/ckan"
"$CKAN" -c "$INI" db init >"$STATE/db-init.log" 2>&1
if ! "$CKAN" -c "$INI" user show admin 2>/dev/null | grep -q "name=admin\|'name': 'admin'"; then
  "$CKAN" -c "$INI" user add admin email=admin@localhost password=dcor-dev-admin >/dev/null 2>&1 || true
fi
"$CKAN" -c "$INI" sysadmin add admin >/dev/null 2>&1 || true
TOKEN="$("$CKAN" -c "$INI" user token add admin dev-site 2>/dev/null | tail -n1 | tr -d '\t ')"
echo "$TOKEN" > "$STATE/admin-token"

"$CKAN" -c "$INI" jobs worker "$(grep -oP '^ckanext.dcor_depot.jobs_queue = \K.*' "$INI" || echo default)" \
  >"$STATE/worker.log" 2>&1 &
WORKER=$!
"$CKAN" -c "$INI" run -H 127.0.0.1 -p 5000 >"$STATE/site.log" 2>&1 &
SITE=$!
trap 'kill $WORKER $SITE 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 120); do
  curl -fs -o /dev/null http://127.0.0.1:5000/api/3/action/status_show && break
  sleep 0.5
done
echo "CKAN:      http://127.0.0.1:5000  (admin / dcor-dev-admin)"
echo "API token: $STATE/admin-token"
echo "S3:        http://127.0.0.1:7480  (keys: scripts/s3-stack.sh env)"
echo "Logs:      $STATE/site.log $STATE/worker.log"
echo "Ctrl-C stops the site and the worker."
wait $SITE

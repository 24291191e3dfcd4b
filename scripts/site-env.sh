# Sourced by dev-site.sh and demo.sh: a local CKAN site with the plugin, its
# job worker and the local S3 server. The caller sets SITE (a name), PORT,
# REDIS_DB and DB (created by scripts/stack.sh site-up).
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO/scripts/stack.sh" site-up
VENV="$(bash "$REPO/scripts/stack.sh" venv)"
CKAN="$VENV/bin/ckan"
STATE="$REPO/.stack/$SITE"
INI="$STATE/$SITE.ini"
SITE_URL="http://127.0.0.1:$PORT"
SITE_PIDS=()

site_prepare() {
  # The database and Redis db may hold another clone's datasets, whose
  # files are not here: a site's first run in this clone starts empty.
  local first_run=
  [ -f "$INI" ] || first_run=1
  mkdir -p "$STATE/storage" "$STATE/depots"
  # dcor_depot_dev_no_solr switches package search off only if no Solr answers.
  sed -e "s|^ckan.site_id = .*|ckan.site_id = dcor_depot_$SITE|" \
      -e "s|^ckan.site_url = .*|ckan.site_url = $SITE_URL|" \
      -e "s|/dcor_depot_test$|/$DB|" \
      -e "s|^ckan.redis.url = .*|ckan.redis.url = redis://127.0.0.1:6379/$REDIS_DB|" \
      -e "s|^ckan.plugins = .*|ckan.plugins = dcor_depot dcor_depot_dev_no_solr|" \
      -e "s|^ckan.storage_path = .*|ckan.storage_path = $STATE/storage|" \
      -e "s|^ckanext.dcor_depot.depots_path = .*|ckanext.dcor_depot.depots_path = $STATE/depots|" \
      -e "s|^ckanext.dcor_depot.users_depot_name = .*|ckanext.dcor_depot.users_depot_name = users-$SITE|" \
      -e "s|^SECRET_KEY = .*|SECRET_KEY = dcor-depot-$SITE-secret-not-for-production|" \
      "$REPO/test.ini" > "$INI.new"
  # extra "key = value" settings go into [app:main]
  local line
  for line in "$@"; do sed -i "/^\[app:main\]$/a $line" "$INI.new"; done
  mv "$INI.new" "$INI"
  if [ -n "$first_run" ]; then
    echo "first run of the $SITE site in this clone: emptying database $DB and Redis db $REDIS_DB" >&2
    "$CKAN" -c "$INI" db clean --yes >"$STATE/db-clean.log" 2>&1 || true
    redis-cli -h 127.0.0.1 -p 6379 -n "$REDIS_DB" flushdb >/dev/null
  fi
  "$CKAN" -c "$INI" db init >"$STATE/db-init.log" 2>&1 \
    || { echo "ckan db init failed, see $STATE/db-init.log" >&2; return 1; }
  "$CKAN" -c "$INI" db upgrade -p dcor_depot >"$STATE/db-upgrade.log" 2>&1 \
    || { echo "ckan db upgrade -p dcor_depot failed, see $STATE/db-upgrade.log" >&2; return 1; }
  "$CKAN" -c "$INI" user add admin email=admin@localhost \
    password=dcor-dev-admin >/dev/null 2>&1 || true
  "$CKAN" -c "$INI" sysadmin add admin >/dev/null 2>&1 || true
  "$CKAN" -c "$INI" user token add admin "$SITE-site" 2>/dev/null \
    | tail -n1 | tr -d '\t ' > "$STATE/admin-token"
  [ -s "$STATE/admin-token" ] \
    || { echo "could not create an API token for admin" >&2; return 1; }
}

site_stop() {
  [ ${#SITE_PIDS[@]} -gt 0 ] && kill "${SITE_PIDS[@]}" 2>/dev/null || true
  [ ${#SITE_PIDS[@]} -gt 0 ] && wait "${SITE_PIDS[@]}" 2>/dev/null || true
  SITE_PIDS=()
}

# The reference deployment (deploy/ rendered by tests/deployment.py):
# nginx on $PORT -> uWSGI with $1 processes -> CKAN, and $2 RQ workers.
# Sets UWSGI_URL (uWSGI's own socket, for checks that bypass nginx).
site_start_deployed() {
  local processes="$1" workers="$2" state="$STATE/deploy" pid
  if curl -fs -o /dev/null "$SITE_URL/api/3/action/status_show"; then
    echo "something already answers on $SITE_URL; stop it first" >&2
    return 1
  fi
  rm -f "$state/ready"
  "$VENV/bin/python" -m ckanext.dcor_depot.tests.deployment serve \
    --ini "$INI" --state "$state" --port "$PORT" \
    --processes "$processes" --workers "$workers" >"$STATE/deploy.log" 2>&1 &
  pid=$!
  SITE_PIDS+=("$pid")
  trap site_stop EXIT
  trap 'exit 130' INT TERM
  for _ in $(seq 1 600); do
    if [ -s "$state/ready" ]; then
      UWSGI_URL="$(cut -d' ' -f2 "$state/ready")"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  echo "the deployment did not come up, see $STATE/deploy.log and $state" >&2
  tail -n 20 "$STATE/deploy.log" >&2
  return 1
}

site_start() {
  if curl -fs -o /dev/null "$SITE_URL/api/3/action/status_show"; then
    echo "something already answers on $SITE_URL; stop it first" >&2
    return 1
  fi
  local queue
  queue="$(grep -oP '^ckanext.dcor_depot.jobs_queue = \K.*' "$INI" || echo default)"
  "$CKAN" -c "$INI" dcor-depot-worker "$queue" >"$STATE/worker.log" 2>&1 &
  SITE_PIDS+=($!)
  "$CKAN" -c "$INI" run -H 127.0.0.1 -p "$PORT" >"$STATE/site.log" 2>&1 &
  SITE_PIDS+=($!)
  trap site_stop EXIT
  trap 'exit 130' INT TERM
  for _ in $(seq 1 240); do
    curl -fs -o /dev/null "$SITE_URL/api/3/action/status_show" && return 0
    sleep 0.5
  done
  echo "CKAN did not answer on $SITE_URL, see $STATE/site.log" >&2
  return 1
}

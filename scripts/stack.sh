#!/usr/bin/env bash
# The local stack of ckanext-dcor_depot: PostgreSQL, Redis, a Ceph radosgw S3
# server and a virtual environment with CKAN and this extension.
#
#   scripts/stack.sh up       install what is missing, start what is stopped
#   scripts/stack.sh site-up  the same for a site (no browser, no test database)
#   scripts/stack.sh down     stop the S3 server (PostgreSQL and Redis stay)
#   scripts/stack.sh status   say what runs
#   scripts/stack.sh venv     print the path of the virtual environment
#   scripts/stack.sh venv-up  only install the virtual environment (the docs)
#   scripts/stack.sh test-ini print the ini of the test suite
#
# CKAN_VERSION=2.11 selects CKAN 2.11 (default 2.12). A second `up` is a no-op.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CKAN_VERSION="${CKAN_VERSION:-2.12}"
case "$CKAN_VERSION" in
  2.11) CKAN_PIN=2.11.6 ;;
  2.12) CKAN_PIN=2.12.0 ;;
  2.11.*|2.12.*) CKAN_PIN="$CKAN_VERSION" ;;
  *) echo "CKAN_VERSION must be 2.11 or 2.12 (got '$CKAN_VERSION')" >&2; exit 2 ;;
esac
VENV="${DCOR_VENV:-$REPO/.venv-ckan$CKAN_PIN}"
PYTHON="${DCOR_PYTHON:-python3}"
PG_HOST=127.0.0.1
PG_PORT=5432
DB_USER=dcor
DB_PASSWORD=dcor
# each CKAN minor version gets its own test database (migrations differ)
TEST_DB="dcor_depot_test"
TEST_INI="$REPO/test.ini"
TEST_REDIS_DB=1
case "$CKAN_PIN" in
  2.11.*) TEST_DB="dcor_depot_test_ckan211"; TEST_INI="$REPO/.stack/test-ckan2.11.ini"; TEST_REDIS_DB=3 ;;
esac
# DCOR_TEST_SLOT=1..6 gives a test run its own database and Redis db, so
# several clones (or people) can run the suite on one machine at once.
# Redis has 16 dbs: 1 and 3 are the unslotted runs, 2 the dev site, 4 the
# demo, 5 the benchmarks; slot 6 has none left for CKAN 2.11.
SLOT="${DCOR_TEST_SLOT:-}"
if [ -n "$SLOT" ]; then
  case "$CKAN_PIN:$SLOT" in
    2.11.*:6) echo "DCOR_TEST_SLOT 6 is for CKAN 2.12 only" >&2; exit 2 ;;
    *:[1-6]) ;;
    *) echo "DCOR_TEST_SLOT must be 1 to 6 (got '$SLOT')" >&2; exit 2 ;;
  esac
  TEST_DB="${TEST_DB}_slot$SLOT"
  TEST_INI="$REPO/.stack/test-ckan$CKAN_PIN-slot$SLOT.ini"
  case "$CKAN_PIN:$SLOT" in
    *:5) case "$CKAN_PIN" in 2.11.*) TEST_REDIS_DB=15 ;; *) TEST_REDIS_DB=14 ;; esac ;;
    *:6) TEST_REDIS_DB=0 ;;
    2.11.*:*) TEST_REDIS_DB=$((9 + SLOT)) ;;
    *) TEST_REDIS_DB=$((5 + SLOT)) ;;
  esac
fi
DATABASES=("$TEST_DB" dcor_depot_dev dcor_depot_demo)

log() { echo "[stack] $*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

APT_UPDATED=0
apt_install() {
  if [ "$APT_UPDATED" = 0 ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  log "installing Debian packages: $*"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq \
    --no-install-recommends "$@" >/dev/null
}

debian_packages() {
  local missing=() pkg
  for pkg in curl gcc libpq-dev libmagic1 python3-dev python3-venv \
             postgresql-client redis-tools unzip; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" \
      || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
}

# The browser test (download list pages) drives Debian's chromium through
# Playwright, pointed at /usr/bin/chromium: Playwright downloads no browser.
browser_packages() {
  dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "ok installed" \
    || apt_install chromium fonts-dejavu-core
}

# The reference deployment (deploy/, scripts/deployment.sh, the demo and
# the tests of tests/deploy) runs Debian's nginx as an unprivileged process
# with a config of its own. Installing the package must not start Debian's
# own nginx on port 80 (its postinst fails where port 80 is taken), so
# service starts are refused while it installs, as Debian's images do.
nginx_package() {
  [ -x /usr/sbin/nginx ] && return
  local guard=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$guard" >/dev/null
    as_root chmod 755 "$guard"
  fi
  apt_install nginx || { [ -z "$guard" ] || as_root rm -f "$guard"; return 1; }
  [ -z "$guard" ] || as_root rm -f "$guard"
}

pg_up() {
  if pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; then return; fi
  if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    apt_install postgresql
  fi
  local version
  version="$(ls /etc/postgresql | sort -V | tail -n1)"
  log "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  local i
  for i in $(seq 1 60); do
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && return
    sleep 0.5
  done
  log "PostgreSQL does not answer on $PG_HOST:$PG_PORT"; exit 1
}

# Runs SQL as the PostgreSQL superuser: over TCP where trust auth allows it,
# else through the local socket as the postgres system user.
pg_admin() {
  if psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -tAc "select 1" >/dev/null 2>&1 </dev/null; then
    psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -tAc "$1"
  else
    as_root runuser -u postgres -- psql -d postgres -v ON_ERROR_STOP=1 -tAc "$1"
  fi
}

pg_databases() {
  if [ "$(pg_admin "select 1 from pg_roles where rolname='$DB_USER'")" != 1 ]; then
    log "creating PostgreSQL role $DB_USER"
    pg_admin "create role $DB_USER login password '$DB_PASSWORD'" >/dev/null
  fi
  local db
  for db in "${DATABASES[@]}"; do
    if [ "$(pg_admin "select 1 from pg_database where datname='$db'")" != 1 ]; then
      log "creating database $db"
      pg_admin "create database $db owner $DB_USER encoding 'utf8' template template0" >/dev/null
    fi
  done
}

redis_up() {
  if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then return; fi
  command -v redis-server >/dev/null || apt_install redis-server
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/dcor-depot.log
  local i
  for i in $(seq 1 40); do
    redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG && return
    sleep 0.25
  done
  log "Redis does not answer on 127.0.0.1:6379"; exit 1
}

venv_up() {
  local stamp_file="$VENV/.dcor-depot-stamp" stamp
  stamp="ckan=$CKAN_PIN $(cat "$REPO/setup.cfg" "$REPO/scripts/stack.sh" | sha256sum | cut -c1-16)"
  if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ] \
      && "$VENV/bin/python" -c "import ckanext.dcor_depot.plugin" 2>/dev/null; then
    return
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 needed"'
    log "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  log "installing CKAN $CKAN_PIN and ckanext-dcor_depot into $VENV"
  local pip_log="$VENV/pip-install.log"
  {
    "$VENV/bin/pip" install --upgrade pip "setuptools<81" wheel &&
    "$VENV/bin/pip" install "ckan[requirements,dev]==$CKAN_PIN" &&
    "$VENV/bin/pip" install -e "$REPO[test,deploy]"
  } >"$pip_log" 2>&1 || { tail -n 30 "$pip_log" >&2; log "pip failed, see $pip_log"; exit 1; }
  echo "$stamp" > "$stamp_file"
}

db_init() {
  local ini="$1" db="$2" stamp_file="$VENV/.dcor-depot-db-$2"
  local stamp="ckan=$CKAN_PIN"
  if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ] \
     && psql "postgresql://$DB_USER:$DB_PASSWORD@$PG_HOST:$PG_PORT/$db" -tAc \
        "select 1 from pg_tables where tablename='package'" 2>/dev/null | grep -q 1; then
    return
  fi
  log "initialising CKAN database $db"
  (cd "$REPO" && "$VENV/bin/ckan" -c "$ini" db init >"$VENV/db-init-$db.log" 2>&1) \
    || { log "db init failed, see $VENV/db-init-$db.log"; exit 1; }
  echo "$stamp" > "$stamp_file"
}

# The extension's own tables (its Alembic migrations); a no-op when they
# are up to date, so it runs on every `up`.
plugin_db_upgrade() {
  local ini="$1" db="$2" log_file="$VENV/db-upgrade-dcor_depot-$2.log"
  (cd "$REPO" && "$VENV/bin/ckan" -c "$ini" db upgrade -p dcor_depot >"$log_file" 2>&1) \
    || { tail -n 20 "$log_file" >&2; log "ckan db upgrade -p dcor_depot failed, see $log_file"; exit 1; }
}

# What a site (the demo, the dev site, scripts/deployment.sh) needs: the
# services and the venv. Not the browser, and not the test database, which
# clones of other branches may have migrated further than this one knows.
cmd_site_up() {
  debian_packages
  nginx_package
  pg_up
  pg_databases
  redis_up
  bash "$REPO/scripts/s3-stack.sh" up
  venv_up
}

cmd_up() {
  cmd_site_up
  browser_packages
  if [ "$TEST_INI" != "$REPO/test.ini" ]; then
    mkdir -p "$(dirname "$TEST_INI")"
    # own database and Redis db, so both versions can be tested at once
    sed -e "s|/dcor_depot_test\$|/$TEST_DB|" \
        -e "s|^ckan.redis.url = .*|ckan.redis.url = redis://127.0.0.1:6379/$TEST_REDIS_DB|" \
        "$REPO/test.ini" > "$TEST_INI"
  fi
  db_init "$TEST_INI" "$TEST_DB"
  plugin_db_upgrade "$TEST_INI" "$TEST_DB"
  log "stack is up (venv: $VENV)"
}

cmd_status() {
  local rc=0
  if pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; then echo "postgresql: up"; else echo "postgresql: down"; rc=1; fi
  if redis-cli -h 127.0.0.1 ping 2>/dev/null | grep -q PONG; then echo "redis: up"; else echo "redis: down"; rc=1; fi
  echo "s3: $(bash "$REPO/scripts/s3-stack.sh" status || true)"
  if [ -x "$VENV/bin/ckan" ]; then echo "venv: $VENV"; else echo "venv: missing"; rc=1; fi
  return $rc
}

case "${1:-}" in
  up) cmd_up ;;
  site-up) cmd_site_up; log "services and venv are up (venv: $VENV)" ;;
  down) bash "$REPO/scripts/s3-stack.sh" down ;;
  status) cmd_status ;;
  venv) echo "$VENV" ;;
  venv-up) debian_packages; venv_up ;;
  test-ini) echo "$TEST_INI" ;;
  *) echo "usage: $0 up|site-up|down|status|venv|test-ini" >&2; exit 2 ;;
esac

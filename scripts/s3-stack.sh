#!/usr/bin/env bash
# A single-node Ceph radosgw on loopback: the real S3 server of the dev and test stack.
# Usage: s3-stack.sh up|down|status|env
# memstore keeps objects in RAM, so a restart starts from an empty store.
# -E: the ERR trap below also reports failures inside functions.
set -Eeuo pipefail

STACK_DIR="${DCOR_STACK_DIR:-/var/lib/dcor-depot-stack}"
CEPH_DIR="$STACK_DIR/ceph"
CONF="$CEPH_DIR/ceph.conf"
MON_PORT="${DCOR_CEPH_MON_PORT:-6789}"
RGW_PORT="${DCOR_S3_PORT:-7480}"
ACCESS_KEY="${DCOR_S3_ACCESS_KEY:-DCORDEVACCESSKEY0001}"
SECRET_KEY="${DCOR_S3_SECRET_KEY:-dcor-dev-secret-key-0000000000000000000001}"
ENDPOINT="http://127.0.0.1:$RGW_PORT"
# where a bootstrap step writes its output (set by bootstrap)
STEP_OUT=""
# Bump when the ceph.conf below changes, so that `up` rebuilds the store.
CONF_VERSION=2

log() { echo "[s3-stack] $*" >&2; }

# Every failure says where it happened: a ceph tool that fails under `set -e`
# otherwise ends the script with its bare exit code (250 was seen) and no word.
trap 'log "failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

install_packages() {
  if command -v radosgw >/dev/null && command -v ceph-mon >/dev/null \
      && command -v ceph-osd >/dev/null && command -v ceph-mgr >/dev/null \
      && command -v curl >/dev/null; then
    return
  fi
  log "installing ceph-mon ceph-osd ceph-mgr radosgw curl from Debian"
  apt-get update -qq || { log "apt-get update failed"; exit 1; }
  # curl: the probe of radosgw; without it a started radosgw seems silent
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    ceph-mon ceph-osd ceph-mgr radosgw uuid-runtime curl >/dev/null \
    || { log "installing the ceph packages failed"; exit 1; }
}

# The ceph CLI waits for a mon for minutes (client_mount_timeout) when none
# answers: bound each call twice, by the client and from outside.
ceph_cli() { timeout -k 5 40 ceph -c "$CONF" --connect-timeout 15 "$@"; }

# radosgw answers, and it is radosgw: another program on the port (an HTTP
# server, a stale process) sends no S3 request id. (grep without -q: under
# pipefail, curl cut off by an early exit of grep would fail the probe.)
rgw_answers() {
  curl -sS -m 5 -D - -o /dev/null "$ENDPOINT" 2>/dev/null | grep -i '^x-amz-request-id:' >/dev/null
}

# The stack is healthy when radosgw answers an authenticated request with our keys.
healthy() {
  [ -f "$CONF" ] || return 1
  [ "$(cat "$CEPH_DIR/conf-version" 2>/dev/null)" = "$CONF_VERSION" ] || return 1
  rgw_answers || return 1
  timeout -k 5 20 radosgw-admin -c "$CONF" user info --uid=dcor-dev >/dev/null 2>&1 || return 1
}

# The program of each daemon, by the name of its pid file (run/NAME.pid).
daemon_program() {
  case "$1" in
    mon.*) echo ceph-mon ;;
    osd.*) echo ceph-osd ;;
    mgr.*) echo ceph-mgr ;;
    client.rgw.*) echo radosgw ;;
    *) return 1 ;;
  esac
}

# pid_is_ours PID NAME: PID runs the program of daemon NAME with this stack's
# ceph.conf. A stale pid file can name a pid that another process got since,
# and other stacks (the main one, other clones) run the same programs.
pid_is_ours() {
  local pid="$1" program args i
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  program="$(daemon_program "$2")" || return 1
  # a zombie has an empty cmdline: it is gone
  mapfile -d "" -t args 2>/dev/null < "/proc/$pid/cmdline" || return 1
  [ "${#args[@]}" -ge 3 ] && [ "${args[0]##*/}" = "$program" ] || return 1
  for ((i = 1; i < ${#args[@]}; i++)); do
    if [ "${args[i-1]}" = "-c" ] && [ "${args[i]}" = "$CONF" ]; then return 0; fi
  done
  return 1
}

# daemon_alive NAME: the pid in run/NAME.pid runs that daemon of this stack.
daemon_alive() {
  local pid
  pid="$(cat "$CEPH_DIR/run/$1.pid" 2>/dev/null)" || return 1
  pid_is_ours "$pid" "$1"
}

# stop_pidfiles PIDFILE...: stops the daemons named by these pid files, and
# only them (never by pattern): SIGTERM, a bounded wait, SIGKILL as the last
# resort. Fails if one of them still runs.
stop_pidfiles() {
  local pidfile name pid pids=() names=() i left deadline signal
  for pidfile in "$@"; do
    [ -f "$pidfile" ] || continue
    name="$(basename "$pidfile" .pid)"
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    if pid_is_ours "$pid" "$name"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid"); names+=("$name")
    else
      rm -f "$pidfile"  # stale: its process is gone or is not ours
    fi
  done
  [ "${#pids[@]}" -gt 0 ] || return 0
  for signal in TERM KILL; do
    if [ "$signal" = KILL ]; then
      for i in "${!pids[@]}"; do
        if pid_is_ours "${pids[i]}" "${names[i]}"; then
          log "${names[i]} (pid ${pids[i]}) ignored SIGTERM; sending SIGKILL"
          kill -KILL "${pids[i]}" 2>/dev/null || true
        fi
      done
    fi
    # an osd whose mon is gone waits a few seconds before it exits
    deadline=$((SECONDS + 20))
    while :; do
      left=0
      for i in "${!pids[@]}"; do
        if pid_is_ours "${pids[i]}" "${names[i]}"; then left=1; fi
      done
      [ "$left" = 1 ] && [ "$SECONDS" -lt "$deadline" ] || break
      sleep 0.2
    done
    [ "$left" = 1 ] || break
  done
  for i in "${!pids[@]}"; do
    if pid_is_ours "${pids[i]}" "${names[i]}"; then
      log "${names[i]} (pid ${pids[i]}) still runs after SIGKILL"
      return 1
    fi
    rm -f "$CEPH_DIR/run/${names[i]}.pid"
  done
}

stop_daemons() {
  [ -d "$CEPH_DIR/run" ] || return 0
  # in the reverse order of their start: radosgw stops slowly (20 s and
  # more) if the osd goes first, and an osd waits for a mon that is gone
  stop_pidfiles "$CEPH_DIR"/run/client.rgw.*.pid || return 1
  stop_pidfiles "$CEPH_DIR"/run/mgr.*.pid "$CEPH_DIR"/run/osd.*.pid || return 1
  stop_pidfiles "$CEPH_DIR"/run/mon.*.pid
}

write_conf() {
  local fsid="$1"
  cat > "$CONF" <<CONF
[global]
fsid = $fsid
mon_host = v1:127.0.0.1:$MON_PORT
public_network = 127.0.0.0/8
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
run_dir = $CEPH_DIR/run
pid_file = $CEPH_DIR/run/\$name.pid
admin_socket = $CEPH_DIR/run/\$name.asok
log_file = $CEPH_DIR/log/\$name.log
osd_objectstore = memstore
# objects live in RAM: 12 GiB at most
memstore_device_bytes = 12884901888
mon_data_avail_warn = 5
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_warn_on_pool_no_redundancy = false
mon_max_pg_per_osd = 1000
ms_bind_ipv6 = false
[mon.a]
mon_data = $CEPH_DIR/mon/a
[mgr.a]
mgr_data = $CEPH_DIR/mgr/a
[osd.0]
osd_data = $CEPH_DIR/osd/0
[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw_data = $CEPH_DIR/rgw/a
rgw_dns_name = 127.0.0.1
# free the RAM of deleted objects at once, not after the default two hours
rgw_gc_obj_min_wait = 0
rgw_gc_processor_period = 5
rgw_gc_processor_max_time = 5
CONF
}

# note STEP STARTED: the time each step took goes into log/bootstrap.log, to
# see where a slow bootstrap spends it.
note() { echo "$(date +%T) $1: $((SECONDS - $2)) s" >> "$CEPH_DIR/log/bootstrap.log"; }

# fail STEP NAME WHAT: one line naming the failed bootstrap step, the end of
# the log of daemon NAME and of the step's own output; then stops what this
# bootstrap started and exits.
fail() {
  local step="$1" name="$2" what="$3" daemon_log="$CEPH_DIR/log/$2.log"
  log "bootstrap step '$step' failed ($what); last lines of $daemon_log:"
  tail -n 20 "$daemon_log" 2>/dev/null | sed 's/^/    /' >&2 || true
  if [ -s "$STEP_OUT" ]; then
    log "output of the step ($STEP_OUT):"
    tail -n 20 "$STEP_OUT" | sed 's/^/    /' >&2
  fi
  stop_daemons || true
  exit 1
}

# step NAME LOGNAME TRIES CMD...: runs CMD until it succeeds, at most TRIES
# times a second apart, its output in $STEP_OUT; else fail. CMD bounds its own
# time (timeout).
step() {
  local name="$1" daemon="$2" tries="$3" i rc began=$SECONDS; shift 3
  for ((i = 1; ; i++)); do
    rc=0
    "$@" >"$STEP_OUT" 2>&1 || rc=$?
    if [ "$rc" = 0 ]; then note "$name" "$began"; return 0; fi
    [ "$i" -lt "$tries" ] || fail "$name" "$daemon" "exit $rc after $i tries"
    sleep 1
  done
}

# start_daemon STEP NAME SECONDS PROBE CMD...: CMD forks daemon NAME into the
# background (it writes run/NAME.pid); PROBE must then succeed within SECONDS.
# A daemon that died is started once more; one that runs but does not answer
# in time is a failure.
start_daemon() {
  local name="$1" daemon="$2" secs="$3" probe="$4" try rc started began=$SECONDS; shift 4
  for try in 1 2; do
    rc=0
    timeout -k 5 60 "$@" >"$STEP_OUT" 2>&1 || rc="exit $?"
    if [ "$rc" = 0 ]; then
      started=$SECONDS
      until "$probe"; do
        # the pid file can come a moment after the fork
        if ! daemon_alive "$daemon" && [ $((SECONDS - started)) -ge 5 ]; then
          rc="$daemon exited"; break
        fi
        if [ $((SECONDS - started)) -ge "$secs" ]; then
          fail "$name" "$daemon" "$daemon runs but did not answer within ${secs}s"
        fi
        sleep 0.5
      done
      if [ "$rc" = 0 ]; then note "$name" "$began"; return 0; fi
    fi
    stop_pidfiles "$CEPH_DIR/run/$daemon.pid" || true
    [ "$try" = 2 ] || sleep 1
  done
  fail "$name" "$daemon" "$rc, twice"
}

# port_free PORT WHO: nothing listens on 127.0.0.1:PORT, which WHO needs.
port_free() {
  if timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; then
    log "port 127.0.0.1:$1, needed by $2, is taken by another program:"
    if command -v ss >/dev/null; then ss -Hltnp "sport = :$1" | sed 's/^/    /' >&2 || true; fi
    log "stop it, or choose other ports (DCOR_S3_PORT, DCOR_CEPH_MON_PORT)"
    exit 1
  fi
}

# The probes each bootstrap step waits for, each bounded. Their greps read
# all input (no -q): with pipefail, a writer cut off early fails the probe.
mon_answers() { ceph_cli mon stat >/dev/null 2>&1; }
osd_up() { ceph_cli osd stat -f json 2>/dev/null | grep '"num_up_osds":1,' >/dev/null; }
mgr_started() { daemon_alive mgr.a; }
mgr_available() { ceph_cli mgr stat 2>/dev/null | grep '"available": true' >/dev/null; }

# wait_for SECONDS PROBE: PROBE succeeds within SECONDS.
wait_for() {
  local deadline=$((SECONDS + $1))
  until "$2"; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "no answer within $1 s"; return 1; }
    sleep 0.5
  done
}

mon_mkfs() {
  find "$CEPH_DIR/mon/a" -mindepth 1 -delete &&
  timeout -k 5 60 ceph-mon -c "$CONF" --mkfs -i a --monmap "$CEPH_DIR/monmap"
}

osd_mkfs() {
  find "$CEPH_DIR/osd/0" -mindepth 1 -delete &&
  timeout -k 5 120 ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$1"
}

# idempotent, so that a try after a timed-out one does not fail on "exists"
user_create() {
  timeout -k 5 30 radosgw-admin -c "$CONF" user info --uid=dcor-dev >/dev/null 2>&1 ||
  timeout -k 5 30 radosgw-admin -c "$CONF" user create --uid=dcor-dev \
    --display-name="DCOR dev" --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" >/dev/null
}

bootstrap() {
  local began=$SECONDS
  log "bootstrapping a single-node ceph in $CEPH_DIR"
  stop_daemons || { log "could not stop the daemons of $CEPH_DIR"; exit 1; }
  port_free "$MON_PORT" ceph-mon
  port_free "$RGW_PORT" radosgw
  rm -rf "$CEPH_DIR"
  mkdir -p "$CEPH_DIR"/{run,log,mon/a,mgr/a,osd/0,rgw/a}
  STEP_OUT="$CEPH_DIR/log/bootstrap-step.out"
  local fsid osd_uuid
  fsid="$(cat /proc/sys/kernel/random/uuid)"
  osd_uuid="$(cat /proc/sys/kernel/random/uuid)"
  write_conf "$fsid"
  step monmaptool mon.a 3 timeout -k 5 30 monmaptool --create --clobber --fsid "$fsid" \
    --addv a "[v1:127.0.0.1:$MON_PORT]" "$CEPH_DIR/monmap"
  step "mon mkfs" mon.a 3 mon_mkfs
  start_daemon "mon start" mon.a 60 mon_answers ceph-mon -c "$CONF" -i a
  # the same uuid and id again is a no-op for the mon, so a retry is safe
  step "ceph osd new" mon.a 5 ceph_cli osd new "$osd_uuid" 0
  # The osd places itself in the crush map when it starts, but it can send
  # that command before it has the monmap, with fsid 0; with auth none that
  # race is often lost: "mon_cmd_maybe_osd_create fail: 'wrong fsid'" and
  # exit 250. So the osd is placed here, and told not to do it at start.
  step "osd crush create-or-move" mon.a 5 ceph_cli osd crush create-or-move osd.0 1 root=default
  step "osd mkfs" osd.0 3 osd_mkfs "$osd_uuid"
  # on the command line, not in ceph.conf: running stacks need no rebuild
  start_daemon "osd start" osd.0 90 osd_up ceph-osd -c "$CONF" -i 0 \
    --osd_crush_update_on_start=false --osd_class_update_on_start=false
  # radosgw needs no mgr: the mgr comes up while radosgw creates its pools
  start_daemon "mgr start" mgr.a 30 mgr_started ceph-mgr -c "$CONF" -i a
  start_daemon "radosgw start" client.rgw.a 120 rgw_answers radosgw -c "$CONF" -n client.rgw.a
  step "mgr available" mgr.a 1 wait_for 60 mgr_available
  step "radosgw user create" client.admin 5 user_create
  echo "$CONF_VERSION" > "$CEPH_DIR/conf-version"
  log "bootstrap took $((SECONDS - began)) s"
}

# A built stack of this version whose mon and osd run holds objects that
# other runs (suites, demos, benches) are using: a slow or stopped radosgw
# is waited for or restarted, never a reason to rebuild (which would empty
# the store under them).
built_and_running() {
  [ -f "$CONF" ] && [ "$(cat "$CEPH_DIR/conf-version" 2>/dev/null)" = "$CONF_VERSION" ] \
    && daemon_alive mon.a && daemon_alive osd.0
}

wait_for_running_stack() {
  local began=$SECONDS
  if ! daemon_alive client.rgw.a; then
    log "radosgw of $CEPH_DIR is not running: starting it (the store is kept)"
    STEP_OUT="$CEPH_DIR/log/restart-rgw.out"
    start_daemon "radosgw start" client.rgw.a 120 rgw_answers radosgw -c "$CONF" -n client.rgw.a
  fi
  until healthy; do
    if [ $((SECONDS - began)) -ge 300 ]; then
      log "radosgw of $CEPH_DIR runs but has not answered for 5 minutes;" \
          "see $CEPH_DIR/log/client.rgw.a.log. Not rebuilt, which would" \
          "delete its objects: 'scripts/s3-stack.sh down' first to rebuild."
      exit 1
    fi
    log "radosgw runs but does not answer yet (busy?); waiting"
    sleep 5
  done
}

cmd_up() {
  install_packages
  if healthy; then
    log "radosgw already answers at $ENDPOINT"
    return
  fi
  if built_and_running; then
    wait_for_running_stack
    log "radosgw answers at $ENDPOINT"
    return
  fi
  mkdir -p "$STACK_DIR"
  bootstrap
  healthy || { log "radosgw did not come up; see $CEPH_DIR/log"; exit 1; }
  log "radosgw answers at $ENDPOINT"
}

cmd_env() {
  echo "DCOR_S3_ENDPOINT=$ENDPOINT"
  echo "DCOR_S3_ACCESS_KEY=$ACCESS_KEY"
  echo "DCOR_S3_SECRET_KEY=$SECRET_KEY"
}

case "${1:-}" in
  up) cmd_up ;;
  down)
    stop_daemons || { log "could not stop the daemons of $CEPH_DIR"; exit 1; }
    log "stopped" ;;
  status) if healthy; then echo "up $ENDPOINT"; else echo "down"; exit 1; fi ;;
  env) cmd_env ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac

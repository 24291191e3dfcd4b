#!/usr/bin/env bash
# A single-node Ceph radosgw on loopback: the real S3 server of the dev and test stack.
# Usage: s3-stack.sh up|down|status|env
# memstore keeps objects in RAM, so a restart starts from an empty store.
set -euo pipefail

STACK_DIR="${DCOR_STACK_DIR:-/var/lib/dcor-depot-stack}"
CEPH_DIR="$STACK_DIR/ceph"
CONF="$CEPH_DIR/ceph.conf"
MON_PORT="${DCOR_CEPH_MON_PORT:-6789}"
RGW_PORT="${DCOR_S3_PORT:-7480}"
ACCESS_KEY="${DCOR_S3_ACCESS_KEY:-DCORDEVACCESSKEY0001}"
SECRET_KEY="${DCOR_S3_SECRET_KEY:-dcor-dev-secret-key-0000000000000000000001}"
ENDPOINT="http://127.0.0.1:$RGW_PORT"
# Bump when the ceph.conf below changes, so that `up` rebuilds the store.
CONF_VERSION=2

log() { echo "[s3-stack] $*" >&2; }

install_packages() {
  if command -v radosgw >/dev/null && command -v ceph-mon >/dev/null \
      && command -v ceph-osd >/dev/null && command -v ceph-mgr >/dev/null; then
    return
  fi
  log "installing ceph-mon ceph-osd ceph-mgr radosgw from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    ceph-mon ceph-osd ceph-mgr radosgw uuid-runtime >/dev/null
}

# The stack is healthy when radosgw answers an authenticated request with our keys.
healthy() {
  [ -f "$CONF" ] || return 1
  [ "$(cat "$CEPH_DIR/conf-version" 2>/dev/null)" = "$CONF_VERSION" ] || return 1
  curl -fsS -m 5 -o /dev/null "$ENDPOINT" 2>/dev/null || return 1
  timeout 20 radosgw-admin -c "$CONF" user info --uid=dcor-dev >/dev/null 2>&1 || return 1
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

bootstrap() {
  log "bootstrapping a single-node ceph in $CEPH_DIR"
  stop_daemons || { log "could not stop the daemons of $CEPH_DIR"; exit 1; }
  rm -rf "$CEPH_DIR"
  mkdir -p "$CEPH_DIR"/{run,log,mon/a,mgr/a,osd/0,rgw/a}
  local fsid
  fsid="$(cat /proc/sys/kernel/random/uuid)"
  write_conf "$fsid"
  monmaptool --create --clobber --fsid "$fsid" --addv a "[v1:127.0.0.1:$MON_PORT]" \
    "$CEPH_DIR/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$CEPH_DIR/monmap"
  ceph-mon -c "$CONF" -i a
  local osd_uuid
  osd_uuid="$(cat /proc/sys/kernel/random/uuid)"
  ceph -c "$CONF" osd new "$osd_uuid" 0 >/dev/null
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" >/dev/null 2>&1
  ceph-osd -c "$CONF" -i 0 2>/dev/null
  ceph-mgr -c "$CONF" -i a
  radosgw -c "$CONF" -n client.rgw.a
  local i
  for i in $(seq 1 120); do
    if curl -fsS -o /dev/null "$ENDPOINT" 2>/dev/null; then break; fi
    sleep 0.5
  done
  echo "$CONF_VERSION" > "$CEPH_DIR/conf-version"
  radosgw-admin -c "$CONF" user create --uid=dcor-dev --display-name="DCOR dev" \
    --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" >/dev/null
}

cmd_up() {
  install_packages
  if healthy; then
    log "radosgw already answers at $ENDPOINT"
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

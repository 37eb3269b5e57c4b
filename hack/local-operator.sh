#!/usr/bin/env bash
# Run the operator as a local process against a kubeconfig (the simulated
# cluster has no real pods to run it in), under a supervisor that restarts it
# whenever it exits, as a Deployment's pod would be restarted (the operator exits
# on purpose when it loses its leader lease, e.g. across an API-server outage).
#
#   local-operator.sh start|stop|status|ports
#
# One operator per cluster state directory ($KD_CLUSTER_DIR, default
# $KD_CACHE_DIR/cluster): its pid, log (logs/operator.log) and ports
# (operator.env: metrics/health and the webhook, chosen once, free ports
# preferred 18080 and 9443) live there, so operators of different local clusters
# never share a port or a webhook.  KD_OPERATOR_METRICS / KD_WEBHOOK_ADDRESS
# choose the ports explicitly; KD_OPERATOR_ARGS adds flags.
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
STATE="${KD_CLUSTER_DIR:-$KD_CACHE_DIR/cluster}"
PIDFILE="$STATE/pids/operator.pid"          # the supervisor
CHILDFILE="$STATE/pids/operator-process.pid" # the operator it runs now
LOGFILE="$STATE/logs/operator.log"
PORTS="$STATE/operator.env"
PY="$REPO_DIR/.venv/bin/python"
MAX_BACKOFF=30 # seconds between restarts of an operator that keeps exiting

running() {
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "local-operator.sh supervise"
}

# Prints 127.0.0.1:PORT: $preferred if free, else any free port.
free_address() {
  "$PY" - "$1" <<'EOF'
import socket, sys
def bind(port):
    s = socket.socket()
    s.bind(("127.0.0.1", port))
    return s
try:
    s = bind(int(sys.argv[1]))
except OSError:
    s = bind(0)
print(f"127.0.0.1:{s.getsockname()[1]}")
s.close()
EOF
}

# The operator's addresses for this cluster: chosen on first use, then kept.
load_ports() {
  mkdir -p "$STATE"
  local metrics="" webhook=""
  if [ -f "$PORTS" ]; then
    # shellcheck source=/dev/null
    metrics="$(source "$PORTS"; echo "$KD_OPERATOR_METRICS")"
    # shellcheck source=/dev/null
    webhook="$(source "$PORTS"; echo "$KD_WEBHOOK_ADDRESS")"
  fi
  metrics="${KD_OPERATOR_METRICS:-${metrics:-$(free_address 18080)}}"
  webhook="${KD_WEBHOOK_ADDRESS:-${webhook:-$(free_address 9443)}}"
  printf 'KD_OPERATOR_METRICS=%s\nKD_WEBHOOK_ADDRESS=%s\n' "$metrics" "$webhook" >"$PORTS"
  METRICS="$metrics"
  WEBHOOK="$webhook"
}

ready() {
  "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
    "http://$METRICS/readyz" >/dev/null 2>&1
}

# The supervisor (run detached by `start`): runs the operator, restarts it when it
# exits (backing off while it keeps exiting quickly), forwards SIGTERM on `stop`,
# and ends when the cluster's kubeconfig is gone (the cluster was removed).
supervise() {
  local stopping="" child="" rc started delay=1
  trap 'stopping=1; [ -z "$child" ] || kill -TERM "$child" 2>/dev/null || true' TERM INT
  read -r -a extra <<<"${KD_OPERATOR_ARGS:-}"
  while [ -z "$stopping" ]; do
    if [ ! -f "$KUBECONFIG" ]; then
      log "supervisor: $KUBECONFIG is gone; not restarting the operator"
      break
    fi
    started="$(date +%s)"
    "$REPO_DIR/.venv/bin/kubedirector" run --kubeconfig "$KUBECONFIG" \
      --namespace "${KD_NAMESPACE:-kubedirector}" --metrics-address "$METRICS" \
      --webhook-address "$WEBHOOK" --webhook-url "https://$WEBHOOK" \
      --log-format json "${extra[@]}" </dev/null &
    child=$!
    echo "$child" >"$CHILDFILE"
    rc=0
    # `wait` returns early when a trapped signal arrives: wait until it has exited.
    while kill -0 "$child" 2>/dev/null; do wait "$child" || rc=$?; done
    child=""
    [ -z "$stopping" ] || break
    if [ $(($(date +%s) - started)) -ge 60 ]; then delay=1; fi
    log "supervisor: operator exited with status $rc; restarting in ${delay}s"
    sleep "$delay" &
    wait $! || true
    delay=$((delay * 2 > MAX_BACKOFF ? MAX_BACKOFF : delay * 2))
  done
  rm -f "$CHILDFILE"
  log "supervisor: stopped"
}

stop() {
  if running; then
    local pid
    pid="$(cat "$PIDFILE")"
    kill -TERM "$pid"
    for _ in $(seq 1 100); do running || break; sleep 0.2; done
    if running; then
      [ -f "$CHILDFILE" ] && kill -KILL "$(cat "$CHILDFILE")" 2>/dev/null
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "operator stopped"
  else
    log "operator not running"
  fi
  rm -f "$PIDFILE" "$CHILDFILE"
}

case "${1:-}" in
  start)
    [ -n "${KUBECONFIG:-}" ] || die "KUBECONFIG is not set"
    load_ports
    if running; then log "operator already running (pid $(cat "$PIDFILE"))"; exit 0; fi
    mkdir -p "$(dirname "$PIDFILE")" "$(dirname "$LOGFILE")"
    KUBECONFIG="$(cd "$(dirname "$KUBECONFIG")" && pwd)/$(basename "$KUBECONFIG")" \
      METRICS="$METRICS" WEBHOOK="$WEBHOOK" \
      nohup bash "${BASH_SOURCE[0]}" supervise >>"$LOGFILE" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 100); do
      ready && break
      sleep 0.3
    done
    if ! ready; then
      stop
      die "the operator did not become ready in 30 s; see $LOGFILE"
    fi
    log "operator running as a local process (pid $(cat "$CHILDFILE"), restarted if it exits); logs: $LOGFILE; metrics: http://$METRICS/metrics; webhook: https://$WEBHOOK"
    ;;
  supervise)
    [ -n "${METRICS:-}" ] && [ -n "${WEBHOOK:-}" ] || die "supervise is started by 'start'"
    supervise
    ;;
  stop) stop ;;
  status)
    if running; then
      echo "running (supervisor pid $(cat "$PIDFILE"), operator pid $(cat "$CHILDFILE" 2>/dev/null || echo restarting)), logs: $LOGFILE"
    else
      echo "stopped"
      exit 1
    fi
    ;;
  ports)
    load_ports
    cat "$PORTS"
    ;;
  *) die "usage: $0 start|stop|status|ports" ;;
esac

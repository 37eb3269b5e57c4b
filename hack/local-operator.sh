#!/usr/bin/env bash
# Run the operator as a local process against a kubeconfig (the simulated
# cluster has no real pods to run it in).   local-operator.sh start|stop|status
# Logs: $KD_CLUSTER_DIR/logs/operator.log; metrics/health on $KD_OPERATOR_METRICS.
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
STATE="${KD_CLUSTER_DIR:-$KD_CACHE_DIR/cluster}"
PIDFILE="$STATE/pids/operator.pid"
LOGFILE="$STATE/logs/operator.log"
METRICS="${KD_OPERATOR_METRICS:-127.0.0.1:18080}"

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
ready() {
  "$REPO_DIR/.venv/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
    "http://$METRICS/readyz" >/dev/null 2>&1
}

case "${1:-}" in
  start)
    [ -n "${KUBECONFIG:-}" ] || die "KUBECONFIG is not set"
    if running; then log "operator already running (pid $(cat "$PIDFILE"))"; exit 0; fi
    mkdir -p "$(dirname "$PIDFILE")" "$(dirname "$LOGFILE")"
    read -r -a extra <<<"${KD_OPERATOR_ARGS:-}"  # more flags, e.g. the webhook's (deploy.sh)
    nohup "$REPO_DIR/.venv/bin/kubedirector" run --kubeconfig "$KUBECONFIG" \
      --namespace "${KD_NAMESPACE:-kubedirector}" --metrics-address "$METRICS" \
      --log-format json "${extra[@]}" >>"$LOGFILE" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 100); do
      ready && break
      running || die "the operator exited; see $LOGFILE"
      sleep 0.3
    done
    ready || die "the operator did not become ready in 30 s; see $LOGFILE"
    log "operator running as a local process (pid $(cat "$PIDFILE")); logs: $LOGFILE; metrics: http://$METRICS/metrics"
    ;;
  stop)
    if running; then
      kill -TERM "$(cat "$PIDFILE")"
      for _ in $(seq 1 100); do running || break; sleep 0.2; done
      running && kill -KILL "$(cat "$PIDFILE")"
      log "operator stopped"
    else
      log "operator not running"
    fi
    rm -f "$PIDFILE"
    ;;
  status)
    if running; then echo "running (pid $(cat "$PIDFILE")), logs: $LOGFILE"; else echo "stopped"; exit 1; fi
    ;;
  *) die "usage: $0 start|stop|status" ;;
esac

#!/usr/bin/env bash
# The README's first command.  With KUBECONFIG set it uses that cluster;
# otherwise it brings up the local simulated cluster.  Then it installs the
# CRDs and the example catalog and shows them.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PY="$REPO_DIR/.venv/bin/python"

if [ -n "${KUBECONFIG:-}" ] && [ -z "${KD_LOCAL:-}" ]; then
  log "using the cluster of KUBECONFIG=$KUBECONFIG (set KD_LOCAL=1 to use the local one)"
  KUBECTL="$(command -v kubectl || true)"
  [ -n "$KUBECTL" ] || KUBECTL="$("$PY" "$HACK_DIR/localcluster.py" binaries --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["bin_dir"])')/kubectl"
else
  info="$("$PY" "$HACK_DIR/localcluster.py" up --json)"
  export KUBECONFIG="$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["kubeconfig"])' "$info")"
  KUBECTL="$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["bin_dir"])' "$info")/kubectl"
  log "local simulated cluster up; KUBECONFIG=$KUBECONFIG"
fi

k() { echo "\$ kubectl $*" >&2; "$KUBECTL" "$@"; }
k apply --server-side --force-conflicts -f "$REPO_DIR/manifests/crds"
k wait --for=condition=Established --timeout=60s -f "$REPO_DIR/manifests/crds" >/dev/null
if [ -d "$REPO_DIR/manifests/catalog" ]; then
  k apply --server-side --force-conflicts -f "$REPO_DIR/manifests/catalog"
fi
k get kdapp
echo
echo "kubectl for this cluster: export KUBECONFIG=$KUBECONFIG; $KUBECTL get kdapp" >&2

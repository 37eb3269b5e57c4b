#!/usr/bin/env bash
# The main job (README's first command), acceptance.md scenario A:
# a cluster (KUBECONFIG's, else the local simulated one), the CRDs, the example
# catalog as the system catalog, the operator, and the spark221e2 example
# cluster, waited for until its members reach the furthest state the operator
# supports; then what a user would look at.
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PY="$REPO_DIR/.venv/bin/python"
NS=kubedirector                            # the operator's namespace: system catalog, config
CLUSTER_NS="${KD_WALKTHROUGH_NAMESPACE:-default}"
STATE_HINT="bash hack/local-operator.sh status"
# The walkthrough's local cluster is $KD_CLUSTER_DIR (default ~/.cache/kubedirector/cluster);
# the test suite never uses it (tests/conftest.py), so `make test` neither sees nor
# disturbs the operator and webhooks left running here.

bin_dir() { "$PY" "$HACK_DIR/localcluster.py" binaries --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["bin_dir"])'; }
if [ -n "${KUBECONFIG:-}" ] && [ -z "${KD_LOCAL:-}" ]; then
  log "using the cluster of KUBECONFIG=$KUBECONFIG (set KD_LOCAL=1 for the local simulated one)"
  KUBECTL="$(command -v kubectl || echo "$(bin_dir)/kubectl")"
else
  LOCAL_CLUSTER=1
  info="$("$PY" "$HACK_DIR/localcluster.py" up --json)"
  KUBECONFIG="$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["kubeconfig"])' "$info")"
  export KUBECONFIG
  KUBECTL="$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["bin_dir"])' "$info")/kubectl"
  log "local simulated cluster is up; KUBECONFIG=$KUBECONFIG"
fi

k() { echo "\$ kubectl $*" >&2; "$KUBECTL" "$@"; }
q() { "$KUBECTL" "$@"; }

# Why the local cluster cannot host the machine's real node (nothing if it can): the
# conditions under which `make test` starts it (docs/realnode.md).
real_node_blocker() {
  local out
  if [ -n "${KD_NO_REAL_NODE:-}" ]; then
    echo "KD_NO_REAL_NODE is set"
  elif [ "$(id -u)" != 0 ]; then
    echo "the real node needs root (kubelet, containerd, buildah)"
  elif ! out="$(bash "$HACK_DIR/node-deps.sh" --check 2>&1)"; then
    echo "$out"
  elif ! "$PY" "$HACK_DIR/localcluster.py" binaries --real-node >/dev/null 2>&1; then
    echo "its binaries could not be built (bash hack/build-binaries.sh --real-node says why)"
  fi
}

# 1-2. Deploy: CRDs, the operator (with its admission webhook) and RBAC, the
#      catalog as the system catalog in namespace kubedirector, and the config.
#      Local cluster: the in-cluster path (the image built from the Dockerfile as the
#      Deployment on the real node) whenever this machine can host the real node,
#      else the operator as a local process.  Either replaces the other on a cluster
#      that ran it (hack/deploy.sh).
if [ -n "${LOCAL_CLUSTER:-}" ]; then
  blocker="$(real_node_blocker)"
  if [ -z "$blocker" ]; then
    log "path: in-cluster: the image built from the Dockerfile, as the Deployment on the local real node (this machine can host it: root, its packages and binaries; KD_NO_REAL_NODE=1 runs the operator as a local process instead)"
    # The machine has one real node: this takes it over from another local cluster
    # (the test suite's, say) if that one holds it (docs/realnode.md).
    KUBECTL="$KUBECTL" bash "$HACK_DIR/deploy.sh" deploy --real-node
    STATE_HINT="kubectl -n $NS logs deploy/kubedirector"
    DEPLOY_ARGS=--real-node
  else
    log "path: the operator as a local process, because $blocker"
    KUBECTL="$KUBECTL" bash "$HACK_DIR/deploy.sh" deploy --local
    DEPLOY_ARGS=--local
  fi
else
  KUBECTL="$KUBECTL" bash "$HACK_DIR/deploy.sh" deploy
  DEPLOY_ARGS=""
fi
q apply --server-side --force-conflicts -n "$NS" -f "$REPO_DIR/manifests/examples/config/kd-global-config.yaml" >/dev/null
log "kd-global-config installed in namespace $NS (member services of type NodePort)"

# 3. The example Spark cluster.
k get kdapp -n "$NS"
echo
q apply -n "$CLUSTER_NS" -f "$REPO_DIR/manifests/examples/clusters/cr-cluster-spark221e2.yaml" >/dev/null
log "created kdcluster/spark221e2 in namespace $CLUSTER_NS; waiting for its members"

# 4. Wait until the cluster is Ready: every member set up by its app's package.
if ! q wait --for=condition=Ready kdcluster/spark221e2 -n "$CLUSTER_NS" --timeout=180s >/dev/null; then
  q get kdcluster spark221e2 -n "$CLUSTER_NS" -o yaml >&2 || true
  die "spark221e2 did not become Ready in 180 s; see the operator log ($STATE_HINT)"
fi
log "kdcluster/spark221e2 is Ready"
echo
k get pods -n "$CLUSTER_NS" -l kubedirector.hpe.com/kdcluster=spark221e2
echo
k get svc -n "$CLUSTER_NS" -l kubedirector.hpe.com/kdcluster=spark221e2
echo
k get kdcluster -n "$CLUSTER_NS"
cat >&2 <<MSG

Next: export KUBECONFIG=$KUBECONFIG; kubectl is $KUBECTL
  scale:  kubectl patch kdcluster spark221e2 -n $CLUSTER_NS --type=json -p '[{"op":"replace","path":"/spec/roles/1/members","value":4}]'
  delete: kubectl delete kdcluster spark221e2 -n $CLUSTER_NS
  uninstall: make undeploy${DEPLOY_ARGS:+ DEPLOY_ARGS=$DEPLOY_ARGS} (keeps clusters, apps and CRDs; PURGE=1 removes them too)
  the local cluster and its operator: make cluster-down
MSG

#!/usr/bin/env bash
# Deploy or remove KubeDirector on the cluster of the current kubeconfig.
#
#   hack/deploy.sh deploy   [--local | --real-node] [--dry-run]   (make deploy)
#   hack/deploy.sh undeploy [--local | --real-node] [--purge]     (make undeploy [PURGE=1])
#
# deploy: CRDs, then the operator (namespace kubedirector, RBAC, Deployment,
# Services, PodDisruptionBudget, webhook configurations), waits until the webhook
# answers, then the example catalog as the system catalog.  --local targets the
# simulated nodes of hack/localcluster.py: no pod can run there, so the operator
# runs as a local process (hack/local-operator.sh) and the webhook is called by
# URL (manifests/overlays/local, on the port that cluster's operator serves).
# --real-node targets the local cluster with its
# real node (`hack/localcluster.py up --real-node`, docs/realnode.md): the image is
# built from the Dockerfile (hack/build-image.sh), imported into the node, and the
# Deployment runs there as in a real cluster, with only what this machine forces
# changed (manifests/overlays/realnode).  --dry-run sends everything as a
# server-side dry run: nothing is created and nothing waits.
#
# undeploy removes the operator, its webhooks and RBAC, and keeps what users made:
# the CRDs, every cluster with its pods, services and claims, the apps and configs
# and the namespace kubedirector that holds the system catalog; it says what it
# kept.  A later deploy picks them up again.  --purge removes all of it, in an
# order that cannot get stuck: clusters first (the operator removes their members
# and finalizers), then apps and configs, then the operator and its webhooks, then
# the CRDs.  Both print what they removed.
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NS=kubedirector
KUBECTL="${KUBECTL:-kubectl}"
WAIT="${KD_DEPLOY_TIMEOUT:-120s}"  # each wait below; a cluster deletion includes its members'
LOCAL_WEBHOOK=127.0.0.1:9443  # the URL in manifests/overlays/local, replaced by the real port

action="${1:-}"; shift || true
USAGE="usage: $0 deploy [--local | --real-node] [--dry-run] | undeploy [--local | --real-node] [--purge]"
local_mode=""; real_node=""; dry_run=""; purge=""
for arg in "$@"; do
  case "$arg" in
    --local) local_mode=1 ;;
    --real-node) real_node=1 ;;
    --dry-run) dry_run=1 ;;
    --purge) purge=1 ;;
    *) die "unknown option $arg ($USAGE)" ;;
  esac
done
[ -n "$local_mode" ] && [ -n "$real_node" ] && die "--local and --real-node exclude each other"
LOCALCLUSTER=("${PYTHON:-$REPO_DIR/.venv/bin/python}" "$HACK_DIR/localcluster.py")
if [ -n "$real_node" ]; then
  # The local cluster's own kubeconfig and kubectl unless told otherwise.
  export KUBECONFIG="${KUBECONFIG:-${KD_CLUSTER_DIR:-$KD_CACHE_DIR/cluster}/kubeconfig}"
  command -v "$KUBECTL" >/dev/null 2>&1 || KUBECTL="$KD_BIN_DIR/kubectl"
fi
command -v "$KUBECTL" >/dev/null 2>&1 || die "kubectl not found (set KUBECTL=/path/to/kubectl)"
k() { "$KUBECTL" "$@"; }
overlay() {
  if [ -n "$local_mode" ]; then echo "$REPO_DIR/manifests/overlays/local"
  elif [ -n "$real_node" ]; then echo "$REPO_DIR/manifests/overlays/realnode"
  else echo "$REPO_DIR/manifests/base"; fi
}

# The real node's pod dials the API server on loopback (manifests/overlays/realnode):
# its address goes into a ConfigMap the Deployment reads, before the Deployment.
real_node_prepare() {
  local archive server port
  "${LOCALCLUSTER[@]}" up --real-node >/dev/null  # reused if running (docs/realnode.md)
  # The pod shares the machine's network: a port another process holds would make
  # its probes ask that process.  Checked unless our own Deployment already runs.
  if ! k -n "$NS" get deployment kubedirector >/dev/null 2>&1; then
    for port in $(k kustomize "$(overlay)" | sed -n 's/^ *- containerPort: *\([0-9]*\)$/\1/p; s/^ *containerPort: *\([0-9]*\)$/\1/p'); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        die "127.0.0.1:$port, which the operator's pod listens on (manifests/overlays/realnode), is taken by another process"
      fi
    done
  fi
  archive="$(bash "$HACK_DIR/build-image.sh")"
  "${LOCALCLUSTER[@]}" load-image "$archive" >/dev/null
  server="$(k config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
  [[ "$server" =~ ^https://127\.0\.0\.1:([0-9]+)$ ]] || die "the real node needs the local cluster's API server (https://127.0.0.1:PORT), the kubeconfig names $server"
  k create namespace "$NS" --dry-run=client -o yaml | k apply --server-side -f - >/dev/null
  k create configmap kubedirector-apiserver -n "$NS" --dry-run=client -o yaml \
    --from-literal=KUBERNETES_SERVICE_HOST=127.0.0.1 \
    --from-literal=KUBERNETES_SERVICE_PORT="${BASH_REMATCH[1]}" |
    k apply --server-side --force-conflicts -f - >/dev/null
}

# The operator's objects as applied: with --local, the webhook URL names the port
# this cluster's local operator serves (hack/local-operator.sh ports).
render_operator() {
  if [ -n "$local_mode" ]; then
    local webhook
    webhook="$(bash "$HACK_DIR/local-operator.sh" ports | sed -n 's/^KD_WEBHOOK_ADDRESS=//p')"
    k kustomize "$(overlay)" | sed "s#https://$LOCAL_WEBHOOK/#https://$webhook/#"
  else
    k kustomize "$(overlay)"
  fi
}

# One cluster, one operator: switching between --local and --real-node on a cluster
# that ran the other removes the other path's operator first.  Its webhook
# configurations are rewritten by the apply that follows (URL <-> Service: the same
# field manager, so server-side apply drops the other clientConfig).
leave_the_other_path() {
  if [ -n "$real_node" ] && bash "$HACK_DIR/local-operator.sh" status >/dev/null 2>&1; then
    log "switching paths: stopping this cluster's local-process operator (its URL webhooks become the Service ones)"
    bash "$HACK_DIR/local-operator.sh" stop
  elif [ -n "$local_mode" ] && k -n "$NS" get deployment kubedirector >/dev/null 2>&1; then
    log "switching paths: removing the in-cluster operator's Deployment and PodDisruptionBudget (its Service webhooks become URLs)"
    k -n "$NS" delete deployment,poddisruptionbudget kubedirector --ignore-not-found \
      --wait --timeout="$WAIT" >&2
    k -n "$NS" wait --for=delete pod -l app.kubernetes.io/name=kubedirector,app.kubernetes.io/component=operator \
      --timeout="$WAIT" >/dev/null 2>&1 || true
  fi
}

webhook_answers() {
  # A server-side dry run of a misnamed config comes back refused by our webhook.
  local probe='{"apiVersion": "kubedirector.hpe.com/v1beta1", "kind": "KubeDirectorConfig",
    "metadata": {"name": "deploy-probe"}, "spec": {}}'
  local out
  out="$(k create --dry-run=server -n "$NS" -f - <<<"$probe" 2>&1 || true)"
  [[ "$out" == *"must be 'kd-global-config'"* ]]
}

deploy() {
  local dry=()
  [ -n "$dry_run" ] && dry=(--dry-run=server)
  log "context: $(k config current-context)"
  k apply --server-side --force-conflicts "${dry[@]}" -k "$REPO_DIR/manifests/crds"
  [ -n "$dry_run" ] || k wait --for=condition=Established --timeout="$WAIT" -f "$REPO_DIR/manifests/crds"
  [ -n "$dry_run" ] || leave_the_other_path
  [ -n "$real_node" ] && [ -z "$dry_run" ] && real_node_prepare
  render_operator | k apply --server-side --force-conflicts "${dry[@]}" -f -
  if [ -n "$dry_run" ]; then
    # The catalog needs the CRDs to exist, which a dry run does not create.
    if k get crd kubedirectorapps.kubedirector.hpe.com >/dev/null 2>&1; then
      k apply --server-side --force-conflicts "${dry[@]}" -n "$NS" -k "$REPO_DIR/manifests/catalog"
    fi
    log "dry run: nothing was changed"
    return
  fi
  if [ -n "$local_mode" ]; then
    log "simulated cluster: the operator runs as a local process, not as the Deployment"
    KD_NAMESPACE="$NS" bash "$HACK_DIR/local-operator.sh" start
  else
    k -n "$NS" rollout status deployment/kubedirector --timeout="$WAIT"
  fi
  for _ in $(seq 1 60); do webhook_answers && break; sleep 2; done
  webhook_answers || die "the admission webhook does not answer after 120 s (kubectl -n $NS logs deploy/kubedirector)"
  k apply --server-side --force-conflicts -n "$NS" -k "$REPO_DIR/manifests/catalog"
  log "deployed: CRDs, operator and webhooks in namespace $NS, catalog: $(k get kdapp -n "$NS" -o name | wc -l) apps"
}

REMOVED="$(mktemp)"
trap 'rm -f "$REMOVED"' EXIT
# Echo kubectl's "... deleted" lines and keep them for the summary.
record() { while read -r line; do [ -n "$line" ] && echo "  $line" | tee -a "$REMOVED" >&2; done; return 0; }

# Everything `deploy` made but the Namespace (which holds the system catalog and
# the config), as kind/name, from the manifests themselves.
operator_objects() {
  render_operator | k get --ignore-not-found -o name -f - | grep -v '^namespace/' || true
}

# What keep-mode leaves, counted, for the summary.
count() { k get "$@" -o name 2>/dev/null | wc -l; }

undeploy_operator() {
  [ -z "$local_mode" ] || bash "$HACK_DIR/local-operator.sh" stop
  # Webhook configurations first: nothing may call a webhook that is going away.
  k delete validatingwebhookconfiguration,mutatingwebhookconfiguration kubedirector-webhook \
    --ignore-not-found 2>&1 | record
}

undeploy_keep() {
  log "context: $(k config current-context)"
  log "1/2 the webhooks and the operator (users' clusters, apps and configs stay)"
  undeploy_operator
  local objects
  objects="$(operator_objects)"
  # shellcheck disable=SC2086  # one kind/name per word
  [ -z "$objects" ] || k delete -n "$NS" $objects --ignore-not-found --wait --timeout="$WAIT" 2>&1 | record
  k delete secret -n "$NS" -l app.kubernetes.io/name=kubedirector --ignore-not-found 2>&1 | record
  log "2/2 removed $(grep -c ' deleted' "$REMOVED" || true) objects of the operator"
  if k get crd kubedirectorclusters.kubedirector.hpe.com >/dev/null 2>&1; then
    log "kept: $(count kdcluster -A) KubeDirectorClusters (with their pods, services and claims), $(count kdapp -A) apps, $(count kdconfig -A) configs, $(count kdstatusbackup -A) status backups, the 4 CRDs and namespace $NS"
  else
    log "kept: nothing else (the CRDs are not installed)"
  fi
  log "clusters keep running unmanaged until the next deploy; to remove everything: make undeploy PURGE=1 (hack/deploy.sh undeploy --purge)"
}

undeploy_purge() {
  log "context: $(k config current-context)"
  if k get crd kubedirectorclusters.kubedirector.hpe.com >/dev/null 2>&1; then
    log "1/4 clusters (the operator removes their members)"
    if ! k delete kdcluster --all -A --wait --timeout="$WAIT" 2>&1 | record; then
      # The operator could not finish in time (or is gone): nothing else would
      # remove the finalizer, so do what it would have done and say so.
      log "clusters still deleting after $WAIT: removing their finalizers"
      k get kdcluster -A -o jsonpath='{range .items[*]}{.metadata.namespace}{" "}{.metadata.name}{"\n"}{end}' |
        while read -r ns name; do
          k patch kdcluster "$name" -n "$ns" --type=merge -p '{"metadata":{"finalizers":null}}' | record
        done
    fi
    # Garbage collection removes each cluster's StatefulSets, Services and pods
    # through their owner references, which it can resolve only while the CRD
    # exists: wait for it before going on.
    for kind in statefulsets services pods; do
      k wait --for=delete "$kind" -A -l kubedirector.hpe.com/kdcluster --timeout="$WAIT" \
        >/dev/null 2>&1 || log "some $kind of deleted clusters remain after $WAIT"
    done
    log "2/4 apps and configs"
    k delete kdapp,kdconfig,kdstatusbackup --all -A --wait --timeout="$WAIT" 2>&1 | record
  fi
  log "3/4 the operator and its webhooks"
  undeploy_operator
  render_operator | k delete -f - --ignore-not-found --wait --timeout="$WAIT" 2>&1 | record
  log "4/4 CRDs"
  k delete -k "$REPO_DIR/manifests/crds" --ignore-not-found --wait --timeout="$WAIT" 2>&1 | record
  summary
}

summary() {
  log "removed $(grep -c ' deleted' "$REMOVED" || true) objects:"
  grep ' deleted' "$REMOVED" | sed 's/^ *//' | awk '{print $1}' | sed 's/\/.*//' | sort | uniq -c >&2 || true
}

case "$action" in
  deploy) [ -z "$purge" ] || die "--purge is an undeploy option ($USAGE)"; deploy ;;
  undeploy)
    [ -z "$dry_run" ] || die "undeploy has no --dry-run ($USAGE)"
    if [ -n "$purge" ]; then undeploy_purge; else undeploy_keep; fi
    ;;
  *) die "$USAGE" ;;
esac

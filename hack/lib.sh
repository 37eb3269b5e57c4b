# shellcheck shell=bash disable=SC2034
# Shared shell helpers for hack/ scripts (sourced, not run); the variables are
# the sourcing scripts'.
set -euo pipefail

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$HACK_DIR/.." && pwd)"
# shellcheck source=hack/versions.env
source "$HACK_DIR/versions.env"

KD_CACHE_DIR="${KD_CACHE_DIR:-$HOME/.cache/kubedirector}"
KD_BIN_DIR="$KD_CACHE_DIR/bin/k8s-$KUBE_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-exitcode"
# Prometheus is cached apart, so bumping it never rebuilds the control plane.
KD_PROM_BIN_DIR="$KD_CACHE_DIR/bin/prometheus-$PROMETHEUS_VERSION"
KD_PROM_CRD_DIR="$KD_CACHE_DIR/crds/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION"
KD_NODE_BIN_DIR="$KD_CACHE_DIR/bin/node-containerd-$CONTAINERD_VERSION-runc-$RUNC_VERSION-cni-$CNI_PLUGINS_VERSION"
export GOCACHE="${KD_GOCACHE:-$KD_CACHE_DIR/go-build}"
export GOMODCACHE="${KD_GOMODCACHE:-$KD_CACHE_DIR/go-mod}"
export GOFLAGS="${GOFLAGS:-} -mod=mod"
export CGO_ENABLED=0

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

require_go() {
  command -v go >/dev/null 2>&1 || die "Go is not on PATH. Install Go >= 1.26 (https://go.dev/doc/install) or point KUBEBUILDER_ASSETS / KD_BIN_DIR at prebuilt binaries."
}

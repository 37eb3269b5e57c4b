#!/usr/bin/env bash
# Build the local control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, etcd, kwok) from the Go module proxy, pinned by
# hack/versions.env, into a cache folder outside the clone, and prints the bin
# folder.  Idempotent: a binary already in the cache is not rebuilt.
# For the monitoring tests (make test; the walkthrough needs neither):
#   prometheus       Prometheus and promtool; prints their folder
#   monitoring-crds  the Prometheus Operator's ServiceMonitor, PodMonitor and
#                    PrometheusRule CRDs from its Go module; prints their folder
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KUBE_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
ALL=("${KUBE_CMDS[@]}" etcd kwok)

missing() {
  local out=() b
  for b in "$@"; do [ -x "$KD_BIN_DIR/$b" ] || out+=("$b"); done
  printf '%s\n' "${out[@]}"
}

build_kube() {
  local mod="$KD_CACHE_DIR/src/kube-$KUBE_VERSION" minor="${KUBE_VERSION#*.}"
  minor="${minor%%.*}"
  mkdir -p "$mod"
  log "building Kubernetes v$KUBE_VERSION commands in one go build (first time: many minutes on 2 cores)"
  (
    cd "$mod" || exit 1
    if [ ! -f go.mod ]; then
      # k8s.io/kubernetes requires its staging modules at v0.0.0 with local
      # replaces a dependent module ignores: replace each with its v0.X.Y tag.
      go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" >download.json
      local kmod
      kmod="$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p' download.json)"
      {
        echo "module kdbuild/kube"
        echo "go 1.26"
        echo "require k8s.io/kubernetes v$KUBE_VERSION"
        echo "replace ("
        sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 v0.'"${KUBE_VERSION#*.}"'#p' "$kmod"
        echo ")"
      } >go.mod.tmp
      mv go.mod.tmp go.mod
      rm -f download.json
    fi
    local pkgs=()
    for c in "${KUBE_CMDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
    local getpkgs=()
    for c in "${pkgs[@]}"; do getpkgs+=("$c@v$KUBE_VERSION"); done
    go get "${getpkgs[@]}"
    local vpkg=k8s.io/component-base/version
    local ldflags="-s -w -X $vpkg.gitVersion=v$KUBE_VERSION -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z"
    local ldflags2="-X k8s.io/client-go/pkg/version.gitVersion=v$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
    mkdir -p "$KD_BIN_DIR.tmp"
    go build -trimpath -ldflags "$ldflags $ldflags2" -o "$KD_BIN_DIR.tmp/" "${pkgs[@]}"
  )
  for c in "${KUBE_CMDS[@]}"; do mv "$KD_BIN_DIR.tmp/$c" "$KD_BIN_DIR/$c"; done
}

build_etcd() {
  local mod="$KD_CACHE_DIR/src/etcd-$ETCD_VERSION"
  mkdir -p "$mod"
  log "building etcd v$ETCD_VERSION"
  (
    cd "$mod" || exit 1
    [ -f go.mod ] || printf 'module kdbuild/etcd\ngo 1.26\n' >go.mod
    go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
    go build -trimpath -ldflags "-s -w" -o "$KD_BIN_DIR.tmp/etcd" go.etcd.io/etcd/server/v3
  )
  mv "$KD_BIN_DIR.tmp/etcd" "$KD_BIN_DIR/etcd"
}

build_kwok() {
  # kwok v$KWOK_VERSION wraps a command's *exec.ExitError, so its exec server
  # reports a non-zero exit as an internal error without the code.  A small
  # patch (hack/kwok-exec-exit-code.patch) returns the code as a kubelet does.
  local src="$KD_CACHE_DIR/src/kwok-$KWOK_VERSION-patched"
  log "building kwok v$KWOK_VERSION (with hack/kwok-exec-exit-code.patch)"
  if [ ! -f "$src/.patched" ]; then
    rm -rf "$src"; mkdir -p "$KD_CACHE_DIR/src"
    GOFLAGS='' go mod download "sigs.k8s.io/kwok@v$KWOK_VERSION"
    cp -r "$GOMODCACHE/sigs.k8s.io/kwok@v$KWOK_VERSION" "$src"
    chmod -R u+w "$src"
    (cd "$src" && git apply "$HACK_DIR/kwok-exec-exit-code.patch")
    touch "$src/.patched"
  fi
  (cd "$src" && GOFLAGS='' go build -trimpath -ldflags "-s -w" -o "$KD_BIN_DIR.tmp/kwok" ./cmd/kwok)
  mv "$KD_BIN_DIR.tmp/kwok" "$KD_BIN_DIR/kwok"
}

build_prometheus() {
  # Built in the module's own folder so its go.mod (and any replaces) apply
  # (GOWORK=off: the module ships a go.work naming folders its zip lacks).
  # Without the builtinassets tag: no web UI, the API and scraping are whole.
  local src="$GOMODCACHE/github.com/prometheus/prometheus@v$PROMETHEUS_VERSION"
  local vpkg=github.com/prometheus/common/version
  log "building prometheus and promtool (module v$PROMETHEUS_VERSION, no web UI)"
  GOFLAGS='' go mod download "github.com/prometheus/prometheus@v$PROMETHEUS_VERSION"
  mkdir -p "$KD_PROM_BIN_DIR.tmp"
  (cd "$src" && GOWORK=off GOFLAGS='-mod=readonly' go build -trimpath \
    -ldflags "-s -w -X $vpkg.Version=$(cat VERSION) -X $vpkg.Branch=release" \
    -o "$KD_PROM_BIN_DIR.tmp/" ./cmd/prometheus ./cmd/promtool)
  mkdir -p "$KD_PROM_BIN_DIR"
  mv "$KD_PROM_BIN_DIR.tmp/prometheus" "$KD_PROM_BIN_DIR.tmp/promtool" "$KD_PROM_BIN_DIR/"
  rmdir "$KD_PROM_BIN_DIR.tmp"
}

ensure_prometheus() {
  if [ ! -x "$KD_PROM_BIN_DIR/prometheus" ] || [ ! -x "$KD_PROM_BIN_DIR/promtool" ]; then
    require_go
    local start=$SECONDS
    build_prometheus
    log "prometheus built in $((SECONDS - start)) s"
  fi
}

ensure_monitoring_crds() {
  local names=(servicemonitors podmonitors prometheusrules) n
  [ -f "$KD_PROM_CRD_DIR/prometheusrules.yaml" ] && return
  require_go
  local mod="github.com/prometheus-operator/prometheus-operator@v$PROMETHEUS_OPERATOR_VERSION"
  log "fetching the Prometheus Operator's CRDs (module $mod)"
  GOFLAGS='' go mod download "$mod"
  mkdir -p "$KD_PROM_CRD_DIR.tmp"
  for n in "${names[@]}"; do
    cp "$GOMODCACHE/$mod/example/prometheus-operator-crd/monitoring.coreos.com_$n.yaml" \
      "$KD_PROM_CRD_DIR.tmp/$n.yaml"
  done
  chmod -R u+w "$KD_PROM_CRD_DIR.tmp"
  rm -rf "$KD_PROM_CRD_DIR"
  mv "$KD_PROM_CRD_DIR.tmp" "$KD_PROM_CRD_DIR"
}

main() {
  if [ "${1:-}" = monitoring-crds ]; then
    ensure_monitoring_crds
    echo "$KD_PROM_CRD_DIR"
    return
  fi
  if [ "${1:-}" = prometheus ]; then
    ensure_prometheus
    echo "$KD_PROM_BIN_DIR"
    return
  fi
  mkdir -p "$KD_BIN_DIR" "$KD_BIN_DIR.tmp"
  local todo
  todo="$(missing "${ALL[@]}")"
  if [ -n "$todo" ]; then
    require_go
    local start=$SECONDS
    grep -qx kwok <<<"$todo" && build_kwok
    grep -qx etcd <<<"$todo" && build_etcd
    [ -n "$(missing "${KUBE_CMDS[@]}")" ] && build_kube
    log "built in $((SECONDS - start)) s"
  fi
  rmdir "$KD_BIN_DIR.tmp" 2>/dev/null || true
  echo "$KD_BIN_DIR"
}

main "$@"

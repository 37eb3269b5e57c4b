#!/usr/bin/env bash
# Build the local control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, etcd, kwok) from the Go module proxy, pinned by
# hack/versions.env, into a cache folder outside the clone.  Idempotent: a
# binary already in the cache is not rebuilt.  Prints the bin folder.
#
#   build-binaries.sh [--real-node]
#
# --real-node also builds the real node's pieces (docs/realnode.md): the kubelet
# (in the control plane's go build, sharing its cache) into the same folder, and
# containerd, ctr, the runc shim, runc, the CNI plugins and the pause binary into
# $KD_NODE_BIN_DIR.  runc needs cgo and Debian's libseccomp-dev.
#
#   build-binaries.sh prometheus       Prometheus and promtool (the monitoring tests); prints their folder
#   build-binaries.sh monitoring-crds  the Prometheus Operator's ServiceMonitor, PodMonitor and
#                                      PrometheusRule CRDs from its Go module; prints their folder
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KUBE_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
NODE_BINS=(containerd ctr containerd-shim-runc-v2 runc bridge host-local loopback portmap pause)

missing() {
  local out=() b
  for b in "$@"; do [ -x "$KD_BIN_DIR/$b" ] || out+=("$b"); done
  printf '%s\n' "${out[@]}"
}

build_kube() {
  local mod="$KD_CACHE_DIR/src/kube-$KUBE_VERSION" minor="${KUBE_VERSION#*.}"
  minor="${minor%%.*}"
  mkdir -p "$mod"
  log "building Kubernetes v$KUBE_VERSION commands ($*) in one go build (first time: many minutes on 2 cores)"
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
    for c in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
    local getpkgs=()
    for c in "${pkgs[@]}"; do getpkgs+=("$c@v$KUBE_VERSION"); done
    go get "${getpkgs[@]}"
    local vpkg=k8s.io/component-base/version
    local ldflags="-s -w -X $vpkg.gitVersion=v$KUBE_VERSION -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z"
    local ldflags2="-X k8s.io/client-go/pkg/version.gitVersion=v$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
    mkdir -p "$KD_BIN_DIR.tmp"
    go build -trimpath -ldflags "$ldflags $ldflags2" -o "$KD_BIN_DIR.tmp/" "${pkgs[@]}"
  )
  for c in "$@"; do mv "$KD_BIN_DIR.tmp/$c" "$KD_BIN_DIR/$c"; done
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


# A module's source, copied once out of the module cache (writable, own go.mod).
module_copy() {
  local module="$1" version="$2" dest="$KD_CACHE_DIR/src/$3"
  if [ ! -f "$dest/.copied" ]; then
    rm -rf "$dest"; mkdir -p "$KD_CACHE_DIR/src"
    GOFLAGS='' go mod download "$module@$version"
    cp -r "$GOMODCACHE/$module@$version" "$dest"  # (no upper-case letters to escape)
    chmod -R u+w "$dest"
    touch "$dest/.copied"
  fi
  echo "$dest"
}

build_containerd() {
  local src
  src="$(module_copy github.com/containerd/containerd/v2 "v$CONTAINERD_VERSION" "containerd-$CONTAINERD_VERSION")"
  log "building containerd v$CONTAINERD_VERSION (containerd, ctr, containerd-shim-runc-v2)"
  local ldflags="-s -w -X github.com/containerd/containerd/v2/version.Version=v$CONTAINERD_VERSION"
  (cd "$src" && GOFLAGS='' go build -trimpath -tags urfave_cli_no_docs -ldflags "$ldflags" \
    -o "$KD_NODE_BIN_DIR.tmp/" ./cmd/containerd ./cmd/ctr ./cmd/containerd-shim-runc-v2)
  for b in containerd ctr containerd-shim-runc-v2; do mv "$KD_NODE_BIN_DIR.tmp/$b" "$KD_NODE_BIN_DIR/$b"; done
}

build_runc() {
  # seccomp through cgo and Debian's libseccomp-dev; not the default libpathrs tag
  # (it needs a Rust library).
  [ -f /usr/include/seccomp.h ] || die "runc needs Debian's libseccomp-dev (apt-get install libseccomp-dev, or: make node-deps)"
  local src
  src="$(module_copy github.com/opencontainers/runc "v$RUNC_VERSION" "runc-$RUNC_VERSION")"
  log "building runc v$RUNC_VERSION"
  (cd "$src" && GOFLAGS='' CGO_ENABLED=1 go build -trimpath -tags "seccomp urfave_cli_no_docs" \
    -ldflags "-s -w -X main.version=$RUNC_VERSION" -o "$KD_NODE_BIN_DIR.tmp/runc" .)
  mv "$KD_NODE_BIN_DIR.tmp/runc" "$KD_NODE_BIN_DIR/runc"
}

build_cni() {
  local src
  src="$(module_copy github.com/containernetworking/plugins "v$CNI_PLUGINS_VERSION" "cni-plugins-$CNI_PLUGINS_VERSION")"
  log "building CNI plugins v$CNI_PLUGINS_VERSION (bridge, host-local, loopback, portmap)"
  (cd "$src" && GOFLAGS='' go build -trimpath -ldflags "-s -w" -o "$KD_NODE_BIN_DIR.tmp/" \
    ./plugins/main/bridge ./plugins/ipam/host-local ./plugins/main/loopback ./plugins/meta/portmap)
  for b in bridge host-local loopback portmap; do mv "$KD_NODE_BIN_DIR.tmp/$b" "$KD_NODE_BIN_DIR/$b"; done
}

build_pause() {
  # The sandbox ("pause") binary from the Kubernetes module's own source.
  GOFLAGS='' go mod download "k8s.io/kubernetes@v$KUBE_VERSION"
  log "building pause (gcc -static)"
  gcc -Os -static -o "$KD_NODE_BIN_DIR.tmp/pause" \
    -DVERSION="v$KUBE_VERSION" "$GOMODCACHE/k8s.io/kubernetes@v$KUBE_VERSION/build/pause/linux/pause.c"
  strip "$KD_NODE_BIN_DIR.tmp/pause"
  mv "$KD_NODE_BIN_DIR.tmp/pause" "$KD_NODE_BIN_DIR/pause"
}

build_node() {
  mkdir -p "$KD_NODE_BIN_DIR" "$KD_NODE_BIN_DIR.tmp"
  local todo
  todo="$(KD_BIN_DIR="$KD_NODE_BIN_DIR" missing "${NODE_BINS[@]}")"
  if grep -qx -e containerd -e ctr -e containerd-shim-runc-v2 <<<"$todo"; then build_containerd; fi
  if grep -qx runc <<<"$todo"; then build_runc; fi
  if grep -qx -e bridge -e host-local -e loopback -e portmap <<<"$todo"; then build_cni; fi
  if grep -qx pause <<<"$todo"; then build_pause; fi
  rmdir "$KD_NODE_BIN_DIR.tmp" 2>/dev/null || true
}

main() {
  case "${1:-}" in
    monitoring-crds) ensure_monitoring_crds; echo "$KD_PROM_CRD_DIR"; return ;;
    prometheus) ensure_prometheus; echo "$KD_PROM_BIN_DIR"; return ;;
  esac
  local real_node="" arg
  for arg in "$@"; do
    case "$arg" in
      --real-node) real_node=1 ;;
      *) die "unknown option $arg (usage: $0 [--real-node])" ;;
    esac
  done
  local kube=("${KUBE_CMDS[@]}")
  [ -n "$real_node" ] && kube+=(kubelet)
  mkdir -p "$KD_BIN_DIR" "$KD_BIN_DIR.tmp"
  local todo node_todo=""
  todo="$(missing "${kube[@]}" etcd kwok)"
  [ -n "$real_node" ] && node_todo="$(KD_BIN_DIR="$KD_NODE_BIN_DIR" missing "${NODE_BINS[@]}")"
  if [ -n "$todo$node_todo" ]; then
    require_go
    local start=$SECONDS
    grep -qx kwok <<<"$todo" && build_kwok
    grep -qx etcd <<<"$todo" && build_etcd
    local kube_todo
    kube_todo="$(missing "${kube[@]}")"
    # shellcheck disable=SC2086  # one command name per word
    [ -n "$kube_todo" ] && build_kube $kube_todo
    [ -n "$node_todo" ] && build_node
    log "built in $((SECONDS - start)) s"
  fi
  rmdir "$KD_BIN_DIR.tmp" 2>/dev/null || true
  echo "$KD_BIN_DIR"
}

main "$@"

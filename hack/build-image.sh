#!/usr/bin/env bash
# Build the operator image from the project's Dockerfile without a registry, as an
# OCI archive a containerd can import (docs/realnode.md).
#
#   hack/build-image.sh        prints the archive's path
#   hack/build-image.sh guest  a member image for tests on the real node, on the same
#                              base (bash, python3 and the `python` command; Debian
#                              bookworm has no python2.7), PID 1 a shell that only
#                              waits (as an app image's init would); prints its archive
#
# 1. The base: a Debian root filesystem made by debootstrap (minbase, plus the
#    Python the Dockerfile uses), committed as the local image
#    localhost/kubedirector-base:$DEBIAN_SUITE.  Built once, then cached.
# 2. The Dockerfile itself, built by Debian's buildah (chroot isolation, vfs
#    storage: no daemon, no overlay-in-overlay) with PYTHON_IMAGE pointing at that
#    base, tagged as the image the manifests name.
# 3. `buildah push` to an OCI archive named by a hash of everything that goes
#    into the image, so an unchanged tree is not rebuilt.
#
# Needs root (debootstrap, buildah) and Debian's packages debootstrap and buildah
# (`make image-deps` installs them).  Storage: $KD_CACHE_DIR/image.
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMAGE_DIR="$KD_CACHE_DIR/image"
BASE_IMAGE="localhost/kubedirector-base:$DEBIAN_SUITE"
# The name the Deployment uses (the one `images:` entry of
# manifests/base/kustomization.yaml): the node imports the local build under it,
# and the pod never pulls (imagePullPolicy: Never).
IMAGE="$(awk '/^images:/ {i=1} i && /newName:/ {n=$2} i && /newTag:/ {t=$2} END {print n ":" t}' \
  "$REPO_DIR/manifests/base/kustomization.yaml")"
[[ "$IMAGE" == *?:?* ]] || die "no image in manifests/base/kustomization.yaml (images: newName, newTag)"
# What the Dockerfile's build stage needs from the base: python (the command),
# venv and pip; debootstrap's minbase has the rest (groupadd, useradd).
BASE_PACKAGES=python3,python3-venv,python3-pip,python-is-python3
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

[ "$(id -u)" = 0 ] || die "building the image needs root (debootstrap, buildah with chroot isolation)"
for tool in debootstrap buildah; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "$tool is missing: apt-get install debootstrap buildah (or: make image-deps)"
done

bah() {
  buildah --root "$IMAGE_DIR/storage" --runroot "$IMAGE_DIR/run" --storage-driver vfs "$@"
}

build_base() {
  bah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1 && return
  local rootfs="$IMAGE_DIR/rootfs-$DEBIAN_SUITE" start=$SECONDS
  if [ ! -f "$rootfs.done" ]; then
    log "making the base $BASE_IMAGE with debootstrap ($BASE_PACKAGES)"
    rm -rf "$rootfs"
    # debootstrap's own default mirror; the machine's Debian packages come from it too.
    debootstrap --variant=minbase --include="$BASE_PACKAGES" "$DEBIAN_SUITE" "$rootfs" >"$IMAGE_DIR/debootstrap.log" 2>&1 ||
      die "debootstrap failed; see $IMAGE_DIR/debootstrap.log"
    # Package lists and caches are not part of an image.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
    touch "$rootfs.done"
  fi
  local ctr
  ctr="$(bah from scratch)"
  tar -C "$rootfs" -cf "$rootfs.tar" .
  bah add "$ctr" "$rootfs.tar" / >/dev/null
  bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --cmd python3 "$ctr"
  bah commit --quiet --rm "$ctr" "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs" "$rootfs.done" "$rootfs.tar"
  log "base built in $((SECONDS - start)) s"
}

# A hash of the build's inputs: the Dockerfile, what it copies, the base's recipe.
input_hash() {
  (
    cd "$REPO_DIR"
    printf '%s\n' "$DEBIAN_SUITE" "$BASE_PACKAGES" "$IMAGE"
    git ls-files -co --exclude-standard Dockerfile .dockerignore pyproject.toml README.md kubedirector |
      LC_ALL=C sort | while read -r f; do [ -f "$f" ] && sha256sum "$f"; done
  ) | sha256sum | cut -c1-16
}

main() {
  mkdir -p "$IMAGE_DIR"
  local archive
  archive="$IMAGE_DIR/kubedirector-$(input_hash).oci.tar"
  if [ -f "$archive" ]; then
    echo "$archive"
    return
  fi
  build_base
  local start=$SECONDS
  log "building $IMAGE from the Dockerfile (buildah, chroot isolation, base $BASE_IMAGE)"
  # The build stage reaches PyPI with this machine's trust store (which may hold
  # a proxy's CA): mounted for the RUN steps only, never part of the image.
  local trust=()
  [ -f "$CA_BUNDLE" ] && trust=(--volume "$CA_BUNDLE:$CA_BUNDLE:ro")
  # No --layers: with vfs every cached step is a full copy of the root filesystem;
  # the archive below is the cache.
  bah build --isolation chroot --pull-never "${trust[@]}" \
    --build-arg "PYTHON_IMAGE=$BASE_IMAGE" -t "$IMAGE" -f "$REPO_DIR/Dockerfile" "$REPO_DIR" \
    >"$IMAGE_DIR/build.log" 2>&1 || { tail -n 30 "$IMAGE_DIR/build.log" >&2; die "buildah build failed; see $IMAGE_DIR/build.log"; }
  rm -f "$IMAGE_DIR"/kubedirector-*.oci.tar
  bah push --quiet "$IMAGE" "oci-archive:$archive.tmp:$IMAGE" >&2
  mv "$archive.tmp" "$archive"
  # Keep only the base in the build storage.
  bah rmi --force "$IMAGE" >/dev/null 2>&1 || true
  bah rmi --prune >/dev/null 2>&1 || true
  log "image built in $((SECONDS - start)) s: $(du -h "$archive" | cut -f1) archive"
  echo "$archive"
}

# The member image: the base, its command a shell that waits (reaping what setup
# scripts leave behind) and ends on SIGTERM.  Cached by its recipe, not rebuilt.
GUEST_IMAGE="localhost/kubedirector-guest:$DEBIAN_SUITE"
GUEST_CMD='trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done'
guest() {
  mkdir -p "$IMAGE_DIR"
  local archive ctr
  archive="$IMAGE_DIR/guest-$(printf '%s\n' "$DEBIAN_SUITE" "$BASE_PACKAGES" "$GUEST_IMAGE" "$GUEST_CMD" |
    sha256sum | cut -c1-16).oci.tar"
  if [ ! -f "$archive" ]; then
    build_base
    ctr="$(bah from --pull-never "$BASE_IMAGE")"
    bah config --cmd "[\"/bin/bash\", \"-c\", $(printf '%s' "$GUEST_CMD" |
      python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')]" "$ctr"
    bah commit --quiet --rm "$ctr" "$GUEST_IMAGE" >/dev/null
    rm -f "$IMAGE_DIR"/guest-*.oci.tar
    bah push --quiet "$GUEST_IMAGE" "oci-archive:$archive.tmp:$GUEST_IMAGE" >&2
    mv "$archive.tmp" "$archive"
    bah rmi --force "$GUEST_IMAGE" >/dev/null 2>&1 || true
    log "member image $GUEST_IMAGE built: $(du -h "$archive" | cut -f1) archive"
  fi
  echo "$archive"
}

case "${1:-}" in
  "") main ;;
  guest) guest ;;
  *) die "usage: $0 [guest]" ;;
esac

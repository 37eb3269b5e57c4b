#!/usr/bin/env bash
# The Debian packages the real node and the image build need (docs/realnode.md):
# libseccomp-dev (runc's seccomp, through cgo), gcc and libc6-dev (runc, the static pause binary),
# debootstrap (the image's base), buildah (builds the Dockerfile), iproute2 (the
# node's bridge).  As root, installs what is missing (one `apt-get update` first);
# otherwise names what to install.
#
#   node-deps.sh --check   only say what is missing (exit 1 if anything is), install
#                          nothing: how the walkthrough decides whether it can use
#                          the real node
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# package -> a file it installs
declare -A PROVIDES=(
  [libseccomp-dev]=/usr/include/seccomp.h
  [gcc]=/usr/bin/gcc
  [libc6-dev]=/usr/lib/x86_64-linux-gnu/libc.a
  [debootstrap]=/usr/sbin/debootstrap
  [buildah]=/usr/bin/buildah
  [iproute2]=/usr/sbin/ip
)

missing=()
for pkg in "${!PROVIDES[@]}"; do
  [ -e "${PROVIDES[$pkg]}" ] || missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "${1:-}" = --check ]; then
  echo "Debian packages missing: ${missing[*]} (make node-deps installs them as root)"
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  die "the real node needs Debian packages: sudo apt-get install ${missing[*]} (or set KD_NO_REAL_NODE=1 to run without it)"
fi
log "installing Debian packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

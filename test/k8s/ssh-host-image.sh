#!/usr/bin/env bash
# An "ssh host with Kubernetes" for the ssh driver's end-to-end test: the tier-3 node image
# (test/k8s/node-image.sh: systemd, containerd, kubelet/kubeadm/kubectl, the control-plane images)
# plus openssh-server and sudo, a non-root user "mk" with passwordless sudo, and sshd enabled under
# systemd; root may not log in (scripts/lib/sshd-host.sh, shared with scripts/build-sshd-image.sh).
# Authorized keys and the host key are per container (the test adds the key; sshd makes an ed25519
# host key on first start), never baked in.
#
#   test/k8s/ssh-host-image.sh              build if missing; prints mk.test/k8s-ssh-host:<version>-<hash> last
#   test/k8s/ssh-host-image.sh --print-tag  print the tag and exit (the base image must exist)
#
# No registry: the .debs come from the HOST's apt (apt-get --download-only, resolved against the base
# image's own dpkg status, so exactly the missing packages come), then `docker build` from the local
# base. The tag hashes this script, scripts/lib/sshd-host.sh and the base image id, so a new base or
# an edit rebuilds.
#
# Environment: MK_SSH_HOST_BASE (default: what node-image.sh prints), MK_SSH_HOST_IMAGE (repository,
# default mk.test/k8s-ssh-host), MK_K8S_VERSION.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF=$here/$(basename "${BASH_SOURCE[0]}")
# shellcheck source=../../scripts/lib/sshd-host.sh
source "$here/../../scripts/lib/sshd-host.sh"
K8S_VERSION=${MK_K8S_VERSION:-$(tr -d '[:space:]' <"$here/VERSION")}
REPO_NAME=${MK_SSH_HOST_IMAGE:-mk.test/k8s-ssh-host}

log() { printf '[k8s-ssh-host-image %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
T0=$(date +%s)

if [[ -n ${MK_SSH_HOST_BASE:-} ]]; then
  BASE=$MK_SSH_HOST_BASE
elif [[ ${1:-} == --print-tag ]]; then
  BASE=$(docker images --filter "reference=mk.test/k8s-node:$K8S_VERSION-*" --format '{{.Repository}}:{{.Tag}}' | sed -n 1p)
  [[ -n $BASE ]] || { echo "no mk.test/k8s-node:$K8S_VERSION-* image; run test/k8s/node-image.sh" >&2; exit 1; }
else
  BASE=$("$here/node-image.sh" | tail -n 1)
fi
BASE_ID=$(docker image inspect -f '{{.Id}}' "$BASE" 2>/dev/null) || { echo "base image $BASE not found" >&2; exit 1; }
HASH=$( { cat "$SELF" "$SSHD_HOST_LIB"; echo "$BASE_ID"; } | sha256sum | cut -c1-12)
TAG=$REPO_NAME:$K8S_VERSION-$HASH

if [[ ${1:-} == --print-tag ]]; then echo "$TAG"; exit 0; fi

# One build at a time per machine (two test runs may ask at once).
LOCK_DIR=${XDG_RUNTIME_DIR:-${TMPDIR:-/tmp}}
exec 9>"$LOCK_DIR/mk-k8s-ssh-host-image.lock"
flock 9

if docker image inspect "$TAG" >/dev/null 2>&1; then
  log "image $TAG present ($(($(date +%s) - T0))s)"
  echo "$TAG"
  exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mk-k8s-ssh-host.XXXXXX")
trap 'rm -rf -- "$WORK"' EXIT
log "resolving the sshd packages against $BASE's dpkg status"
sshd_host_context "$BASE" "$WORK/ctx" "$WORK"
log "$(find "$WORK/ctx/debs" -name '*.deb' | wc -l) packages"

echo "RUN echo 'PermitRootLogin no' >>/etc/ssh/sshd_config.d/mk-test.conf" >>"$WORK/ctx/Dockerfile"

log "docker build $TAG from $BASE"
DOCKER_BUILDKIT=0 docker build -q -t "$TAG" "$WORK/ctx" >"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log" >&2; exit 1; }
# Older builds for this version are superseded (an image a running container uses stays).
docker images --filter "reference=$REPO_NAME" --format '{{.Repository}}:{{.Tag}}' |
  grep -F "$REPO_NAME:$K8S_VERSION-" | grep -vxF "$TAG" | xargs -r docker rmi >/dev/null 2>&1 || true
log "built $TAG in $(($(date +%s) - T0))s"
echo "$TAG"

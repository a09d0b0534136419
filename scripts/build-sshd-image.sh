#!/usr/bin/env bash
# Build the image the ssh driver's integration tests run as "hosts": mk's node image (Debian bookworm +
# systemd) plus openssh-server and sudo, a sudo-capable non-root user "mk" and a user "nosudo"
# (lib/sshd-host.sh, shared with test/k8s/ssh-host-image.sh); root may log in with a key.
#
#   scripts/build-sshd-image.sh              build if missing, print the tag on stdout
#   scripts/build-sshd-image.sh --print-tag  print the tag and exit
#
# No registry needed: the .debs are fetched by the HOST's apt (apt-get --download-only, resolved
# against the base image's own dpkg status so exactly the missing packages come), then installed
# with `docker build` from the local base image.
# The tag is a hash of this script, lib/sshd-host.sh and the base image id, so a new base or an edit rebuilds.
#
# Environment: MK_SSHD_BASE (default mk.local/node:dev), MK_SSHD_IMAGE (default mk.local/sshd-host)
set -euo pipefail

readonly BASE="${MK_SSHD_BASE:-mk.local/node:dev}"
readonly REPO="${MK_SSHD_IMAGE:-mk.local/sshd-host}"
readonly SELF="${BASH_SOURCE[0]}"
# shellcheck source=lib/sshd-host.sh
source "$(dirname "$SELF")/lib/sshd-host.sh"

say() { echo "[sshd-image] $*" >&2; }

BASE_ID=$(docker image inspect -f '{{.Id}}' "$BASE" 2>/dev/null) || { echo "base image $BASE not found (npm run node-image)" >&2; exit 1; }
HASH=$( { cat "$SELF" "$SSHD_HOST_LIB"; echo "$BASE_ID"; } | sha256sum | cut -c1-16)
readonly TAG="$REPO:$HASH"

if [[ ${1:-} == --print-tag ]]; then echo "$TAG"; exit 0; fi
if docker image inspect "$TAG" >/dev/null 2>&1; then echo "$TAG"; exit 0; fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mk-sshd-image.XXXXXX")
trap 'rm -rf -- "$WORK"' EXIT
say "resolving the sshd packages against $BASE's dpkg status"
sshd_host_context "$BASE" "$WORK/ctx" "$WORK"
say "$(ls "$WORK/ctx/debs" | wc -l) packages"

cat >>"$WORK/ctx/Dockerfile" <<'EOF'
RUN printf '%s\n' 'PermitRootLogin prohibit-password' 'AllowTcpForwarding yes' >>/etc/ssh/sshd_config.d/mk-test.conf \
 && useradd -m -s /bin/bash nosudo && usermod -p '*' nosudo \
 && mkdir -p /root/.ssh /home/nosudo/.ssh && chmod 0700 /root/.ssh /home/nosudo/.ssh \
 && chown -R nosudo:nosudo /home/nosudo/.ssh
EOF

say "docker build $TAG"
DOCKER_BUILDKIT=0 docker build -q -t "$TAG" "$WORK/ctx" >"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log" >&2; exit 1; }
docker tag "$TAG" "$REPO:dev"
echo "$TAG"

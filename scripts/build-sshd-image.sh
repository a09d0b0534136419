#!/usr/bin/env bash
# Build the image the ssh driver's integration tests run as "hosts": mk's node image (Debian bookworm +
# systemd) plus openssh-server and sudo, a sudo-capable non-root user "mk" and a user "nosudo".
#
#   scripts/build-sshd-image.sh              build if missing, print the tag on stdout
#   scripts/build-sshd-image.sh --print-tag  print the tag and exit
#
# No registry needed: the .debs are fetched by the HOST's apt (apt-get --download-only, resolved
# against the base image's own dpkg status so exactly the missing packages come), then installed
# with `docker build` from the local base image.
# The tag is a hash of this script and the base image id, so a new base or an edit rebuilds.
#
# Environment: MK_SSHD_BASE (default mk.local/node:dev), MK_SSHD_IMAGE (default mk.local/sshd-host)
set -euo pipefail

readonly BASE="${MK_SSHD_BASE:-mk.local/node:dev}"
readonly REPO="${MK_SSHD_IMAGE:-mk.local/sshd-host}"
readonly SELF="${BASH_SOURCE[0]}"
# shellcheck source=lib/image-debs.sh
source "$(dirname "$SELF")/lib/image-debs.sh"
readonly PACKAGES=(openssh-server openssh-sftp-server sudo)

say() { echo "[sshd-image] $*" >&2; }

BASE_ID=$(docker image inspect -f '{{.Id}}' "$BASE" 2>/dev/null) || { echo "base image $BASE not found (npm run node-image)" >&2; exit 1; }
HASH=$( { cat "$SELF"; echo "$BASE_ID"; } | sha256sum | cut -c1-16)
readonly TAG="$REPO:$HASH"

if [[ ${1:-} == --print-tag ]]; then echo "$TAG"; exit 0; fi
if docker image inspect "$TAG" >/dev/null 2>&1; then echo "$TAG"; exit 0; fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mk-sshd-image.XXXXXX")
trap 'rm -rf -- "$WORK"' EXIT
say "resolving ${PACKAGES[*]} against $BASE's dpkg status"
image_debs "$BASE" "$WORK/ctx/debs" "$WORK" "${PACKAGES[@]}"
say "$(ls "$WORK/ctx/debs" | wc -l) packages"

echo "FROM $BASE" >"$WORK/ctx/Dockerfile"
cat >>"$WORK/ctx/Dockerfile" <<'EOF'
COPY debs /tmp/debs
RUN dpkg -i /tmp/debs/*.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }; \
    rm -rf /tmp/debs /tmp/dpkg.log /etc/ssh/ssh_host_* \
 && printf '%s\n' \
      'HostKey /etc/ssh/ssh_host_ed25519_key' \
      'PermitRootLogin prohibit-password' \
      'PasswordAuthentication no' \
      'KbdInteractiveAuthentication no' \
      'UsePAM no' \
      'MaxStartups 50' \
      'MaxSessions 50' \
      'AllowTcpForwarding yes' \
      >/etc/ssh/sshd_config.d/mk-test.conf \
 && mkdir -p /etc/systemd/system/ssh.service.d \
 && printf '%s\n' '[Service]' \
      'ExecStartPre=' \
      "ExecStartPre=/bin/sh -c 'test -f /etc/ssh/ssh_host_ed25519_key || ssh-keygen -q -t ed25519 -N \"\" -f /etc/ssh/ssh_host_ed25519_key'" \
      'ExecStartPre=/usr/sbin/sshd -t' \
      >/etc/systemd/system/ssh.service.d/mk-hostkey.conf \
 && systemctl enable ssh.service \
 && useradd -m -s /bin/bash mk && usermod -p '*' mk \
 && useradd -m -s /bin/bash nosudo && usermod -p '*' nosudo \
 && printf 'mk ALL=(ALL) NOPASSWD: ALL\n' >/etc/sudoers.d/mk && chmod 0440 /etc/sudoers.d/mk \
 && for u in /root /home/mk /home/nosudo; do mkdir -p $u/.ssh && chmod 0700 $u/.ssh; done \
 && chown -R mk:mk /home/mk/.ssh && chown -R nosudo:nosudo /home/nosudo/.ssh
EOF

say "docker build $TAG"
DOCKER_BUILDKIT=0 docker build -q -t "$TAG" "$WORK/ctx" >"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log" >&2; exit 1; }
docker tag "$TAG" "$REPO:dev"
echo "$TAG"

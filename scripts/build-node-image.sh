#!/usr/bin/env bash
# Build mk's systemd-capable node image without a container registry.
#
#   scripts/build-node-image.sh            build (or load from cache) mk.local/node:<hash>, tag :dev
#   scripts/build-node-image.sh --verify   also boot it with the reduced capability set and stop it
#   scripts/build-node-image.sh --print-tag  print the content tag and exit
#
# The rootfs is a Debian bookworm debootstrap (minbase + systemd), imported with `docker import`.
# The tag is a hash of this script and the package list, so editing either rebuilds.
# Cache order: image already in docker (~0 s) > ${MK_CACHE:-$HOME/.cache/mk}/images/node-<hash>.tar.zst
# (docker load) > full build (then saved to the cache).
#
# Environment:
#   MK_CACHE          cache root (default $HOME/.cache/mk)
#   MK_DEBIAN_MIRROR  Debian mirror URL (default: the first bookworm mirror in apt's sources)
#   MK_NODE_IMAGE     repository name (default mk.local/node)
set -euo pipefail

readonly SUITE=bookworm
readonly PACKAGES=(
  systemd systemd-sysv dbus
  iproute2 iptables conntrack ethtool socat
  curl haproxy
  procps kmod util-linux mount libseccomp2 ca-certificates
)
# Units that fail or make no sense inside a node container. Masked by linking to /dev/null, which
# also works for units that are not installed.
readonly MASKED_UNITS=(
  getty.target console-getty.service getty@tty1.service serial-getty@.service
  systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket
  systemd-udev-trigger.service systemd-udev-settle.service
  systemd-resolved.service systemd-timesyncd.service
  systemd-remount-fs.service systemd-firstboot.service systemd-modules-load.service
  sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount sys-fs-fuse-connections.mount
  apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer
  haproxy.service
)

readonly REPO="${MK_NODE_IMAGE:-mk.local/node}"
readonly CACHE_DIR="${MK_CACHE:-$HOME/.cache/mk}/images"
readonly SELF="${BASH_SOURCE[0]}"
# A fresh machine: the packages and the Docker engine this needs (as root: installed and started).
bash "$(dirname "$SELF")/ensure-host.sh" >&2

VERIFY=0
PRINT_TAG=0
for arg in "$@"; do
  case "$arg" in
    --verify) VERIFY=1 ;;
    --print-tag) PRINT_TAG=1 ;;
    -h | --help) sed -n '2,16p' "$SELF"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

T0=$(date +%s.%N)
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1fs", b - a }'; }
say() { echo "[node-image $(elapsed)] $*" >&2; }

HASH=$( { cat "$SELF"; printf '%s\n' "${PACKAGES[@]}"; } | sha256sum | cut -c1-16)
readonly HASH
readonly TAG="$REPO:$HASH"
readonly DEV_TAG="$REPO:dev"
readonly CACHE_FILE="$CACHE_DIR/node-$HASH.tar.zst"

if [[ $PRINT_TAG == 1 ]]; then echo "$TAG"; exit 0; fi

debian_mirror() {
  if [[ -n ${MK_DEBIAN_MIRROR:-} ]]; then echo "$MK_DEBIAN_MIRROR"; return; fi
  local f url
  # deb822 sources: a stanza with "URIs:" whose suites include bookworm and whose path ends in /debian.
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    url=$(awk '
      /^URIs:/   { uri = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "'"$SUITE"'") ok = 1 }
      /^$/       { if (ok && uri ~ /\/debian\/?$/) { print uri; exit } ok = 0; uri = "" }
      END        { if (ok && uri ~ /\/debian\/?$/) print uri }' "$f" | sed -n 1p)
    if [[ -n $url ]]; then echo "$url"; return; fi
  done
  # one-line sources: "deb [opts] URL bookworm main"
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    url=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/ && $(i+1) == "'"$SUITE"'" && $i ~ /\/debian\/?$/) { print $i; exit } }' "$f" | sed -n 1p)
    if [[ -n $url ]]; then echo "$url"; return; fi
  done
  echo "http://deb.debian.org/debian"
}

tag_dev() { docker tag "$TAG" "$DEV_TAG"; }

verify() {
  local name="mk-image-verify-$HASH-$$" state="" i
  say "verify: booting $TAG with the reduced capability set"
  docker run -d --name "$name" --hostname "$name" \
    --label mk.dev/component=image-verify \
    --cap-add ALL --cap-drop SYS_RESOURCE \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --cgroupns=private --tmpfs /tmp --tmpfs /run --tmpfs /run/lock \
    --stop-signal SIGRTMIN+3 "$TAG" >/dev/null
  trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT
  # systemctl fails fast until systemd (PID 1) is up, then --wait blocks until boot finishes.
  for ((i = 0; i < 120; i++)); do
    state=$(timeout 60 docker exec "$name" systemctl is-system-running --wait 2>/dev/null || true)
    if [[ $state == running || $state == degraded ]]; then break; fi
    sleep 0.5
  done
  say "verify: systemctl is-system-running -> ${state:-<none>}"
  if [[ $state != running && $state != degraded ]]; then
    docker logs "$name" 2>&1 | tail -n 30 >&2
    echo "verify failed: systemd state '${state:-<none>}'" >&2
    exit 1
  fi
  if [[ $state == degraded ]]; then docker exec "$name" systemctl --failed --no-legend >&2 || true; fi
  local t1 t2 code
  t1=$(date +%s.%N)
  docker stop -t 30 "$name" >/dev/null
  t2=$(date +%s.%N)
  code=$(docker inspect -f '{{.State.ExitCode}}' "$name")
  say "verify: stopped in $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1fs", b - a }') with exit code $code"
  for i in 1 2 3; do docker rm -f "$name" >/dev/null 2>&1 && break; sleep 1; done
  trap - EXIT
  # systemd exits 130 after SIGRTMIN+3 (halt via signal); SIGKILL after the timeout would be 137.
  if [[ $code == 137 ]]; then echo "verify failed: container needed SIGKILL to stop" >&2; exit 1; fi
}

finish() {
  tag_dev
  say "ready: $TAG (also $DEV_TAG), $(docker image inspect -f '{{.Size}}' "$TAG" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
  if [[ $VERIFY == 1 ]]; then verify; fi
  say "done"
}

if docker image inspect "$TAG" >/dev/null 2>&1; then
  say "image $TAG present"
  finish
  exit 0
fi

if [[ -f $CACHE_FILE ]]; then
  say "loading $CACHE_FILE"
  zstd -dc -- "$CACHE_FILE" | docker load >/dev/null
  finish
  exit 0
fi

if [[ $(id -u) != 0 ]]; then echo "debootstrap needs root (run as root or under sudo)" >&2; exit 1; fi
command -v debootstrap >/dev/null || { echo "debootstrap not found (apt-get install debootstrap)" >&2; exit 1; }
command -v zstd >/dev/null || { echo "zstd not found (apt-get install zstd)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mk-node-image.XXXXXX")
trap 'rm -rf -- "$WORK"' EXIT
ROOTFS="$WORK/rootfs"
MIRROR=$(debian_mirror)
INCLUDE=$(IFS=,; echo "${PACKAGES[*]}")

say "debootstrap $SUITE from $MIRROR"
debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
  tail -n 40 "$WORK/debootstrap.log" >&2
  exit 1
}
say "debootstrap finished"

for unit in "${MASKED_UNITS[@]}"; do ln -sf /dev/null "$ROOTFS/etc/systemd/system/$unit"; done
ln -sf /lib/systemd/system/multi-user.target "$ROOTFS/etc/systemd/system/default.target"
# No baked identity: every node gets its own machine id and ssh host keys.
: >"$ROOTFS/etc/machine-id"
rm -f "$ROOTFS/var/lib/dbus/machine-id" "$ROOTFS"/etc/ssh/ssh_host_*
# Docker manages these per container.
: >"$ROOTFS/etc/hostname"
# Size: caches, docs and manuals are not needed on a node.
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* \
  "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
  "$ROOTFS"/var/log/*.log "$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/dev/*

say "importing"
tar --numeric-owner --xattrs -C "$ROOTFS" -c . |
  docker import \
    -c 'ENV container=docker' \
    -c 'ENTRYPOINT ["/sbin/init"]' \
    -m "mk node image ($SUITE, ${HASH})" \
    - "$TAG" >/dev/null

say "saving cache $CACHE_FILE"
mkdir -p "$CACHE_DIR"
docker save "$TAG" | zstd -q -T0 -3 -o "$CACHE_FILE.tmp.$$"
mv -f "$CACHE_FILE.tmp.$$" "$CACHE_FILE"
rm -rf -- "$WORK"
trap - EXIT
finish

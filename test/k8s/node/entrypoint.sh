#!/bin/bash
# PID 1 of an mk test node container (tier 3): prepare cgroups and mounts for kubelet +
# containerd without --privileged, then exec systemd. See K8S-FROM-SOURCE.md §5.2.
set -euo pipefail
log() { echo "mk-node-entrypoint: $*" >&2; }

# 1. cgroup v1 controllers are mounted read-only without --privileged. With a private cgroupns each
#    mount is rooted at this container's cgroup; remount each bind read-write (per mount, the host's
#    superblock is untouched), and the tmpfs holding them.
if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
  log "cgroup v2"
  mount -o remount,rw /sys/fs/cgroup
else
  mount -o remount,rw /sys/fs/cgroup 2>/dev/null || log "remount rw /sys/fs/cgroup (tmpfs) failed"
  while read -r _ mnt fstype _; do
    [[ $fstype == cgroup ]] || continue
    mount -o remount,bind,rw "$mnt" || log "remount rw $mnt failed"
  done </proc/self/mounts
  # The misc controller trips up the kubelet's cgroup v1 handling (kind does the same).
  if [[ -d /sys/fs/cgroup/misc ]]; then
    umount /sys/fs/cgroup/misc 2>/dev/null || true
    rmdir /sys/fs/cgroup/misc 2>/dev/null || true
    grep -v '^misc' /proc/cgroups >/run/mk-cgroups
    mount --bind /run/mk-cgroups /proc/cgroups
  fi
  mount --make-rprivate /sys/fs/cgroup
  # The kubelet's cgroupRoot /kubelet, in every controller; self-bind so systemd leaves it alone.
  mapfile -t controllers < <(awk '$3 == "cgroup" { print $2 }' /proc/self/mounts)
  for ctl in "${controllers[@]}"; do
    mkdir -p "$ctl/kubelet" "$ctl/kubelet.slice"
    if [[ -f $ctl/cpuset.cpus ]]; then
      for d in kubelet kubelet.slice; do
        cat "$ctl/cpuset.cpus" >"$ctl/$d/cpuset.cpus"
        cat "$ctl/cpuset.mems" >"$ctl/$d/cpuset.mems"
      done
    fi
    mount --bind "$ctl/kubelet" "$ctl/kubelet"
    mount --bind "$ctl/kubelet.slice" "$ctl/kubelet.slice"
  done
fi

# 2. Bidirectional mount propagation for pods.
mount --make-rshared /

# 3. Identity: a machine id and a product_uuid of its own.
rm -f /etc/machine-id
systemd-machine-id-setup >/dev/null 2>&1 || true
if [[ -f /sys/class/dmi/id/product_uuid ]]; then
  cat /proc/sys/kernel/random/uuid >/run/mk-product_uuid
  mount --bind /run/mk-product_uuid /sys/class/dmi/id/product_uuid || true
fi

# 4. Units must not ask for more than this container may have (no CAP_SYS_RESOURCE): no lower
#    OOM score, no limits above the current hard limits.
mkdir -p /etc/systemd/system/containerd.service.d /etc/systemd/system/kubelet.service.d
cat >/etc/systemd/system/containerd.service.d/10-mk-limits.conf <<UNIT
[Service]
OOMScoreAdjust=0
LimitNOFILE=$(ulimit -Hn)
LimitNPROC=infinity
LimitCORE=infinity
UNIT

exec /sbin/init "$@"

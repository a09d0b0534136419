#!/bin/bash
# Runs inside the VM image's build container (scripts/build-vm-image.sh), a container of the
# Kubernetes node image with ./rootfs already copied over /: turns the container node into a VM node.
#   setup.sh KERNEL_PACKAGE [MIRROR]
set -euo pipefail
kernel_package=$1
mirror=${2:-}
export DEBIAN_FRONTEND=noninteractive
log() { echo "[vm-image setup] $*" >&2; }

# No service starts inside the build container.
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d

if [[ -n $mirror ]]; then
  cp /etc/apt/sources.list /tmp/sources.list.image
  echo "deb $mirror bookworm main" >/etc/apt/sources.list
fi
log "apt-get install $kernel_package and the VM's packages"
apt-get update -qq
# The kernel (its postinst builds the initrd with /etc/initramfs-tools as ./rootfs left it),
# udev (coldplug loads the NICs' drivers; systemd-networkd waits for it), sshd, and what the
# guest's own units run (resize2fs, ssh-keygen, modprobe, ip), and ping to look at the networks.
apt-get install -y -qq --no-install-recommends \
  "$kernel_package" initramfs-tools zstd udev kmod e2fsprogs iproute2 openssh-server iputils-ping >/tmp/apt.log 2>&1 || {
  tail -n 40 /tmp/apt.log >&2
  exit 1
}
if [[ -n $mirror ]]; then mv /tmp/sources.list.image /etc/apt/sources.list; fi

mapfile -t kernels < <(find /boot -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n')
[[ ${#kernels[@]} == 1 ]] || { log "expected one kernel in /boot, found: ${kernels[*]}"; exit 1; }
release=${kernels[0]#vmlinuz-}
[[ -f /boot/initrd.img-$release ]] || { log "no initrd for $release"; exit 1; }
# Whatever finds the root disk must be in the initrd, or built into the kernel.
initrd=$(lsinitramfs "/boot/initrd.img-$release")
for m in virtio_pci virtio_blk ext4; do
  grep -q "/$m\.ko" <<<"$initrd" || grep -q "/$m\.ko" "/lib/modules/$release/modules.builtin" ||
    { log "$m is neither in the initrd nor built into $release"; exit 1; }
done
for m in qemu_fw_cfg virtio_net overlay br_netfilter; do
  modinfo -k "$release" "$m" >/dev/null 2>&1 || { log "no module $m for $release"; exit 1; }
done
log "kernel $release, initrd $(du -h "/boot/initrd.img-$release" | cut -f1)"

# sshd: no host key but the one mk puts in through fw_cfg at boot (mk-fw-cfg-keys.service).
rm -f /etc/ssh/ssh_host_*

# containerd in a VM: systemd (PID 1, cgroup v2) manages the cgroups (mk reads `containerd config
# dump` and gives the kubelet the same driver), and OOM scores may be lowered (the container node
# lacks CAP_SYS_RESOURCE; a VM does not).
sed -i -e 's/^\([[:space:]]*SystemdCgroup[[:space:]]*=\).*/\1 true/' \
  -e 's/^\([[:space:]]*restrict_oom_score_adj[[:space:]]*=\).*/\1 false/' /etc/containerd/config.toml
dump=$(containerd config dump)
grep -q 'SystemdCgroup = true' <<<"$dump" || { log "containerd does not read SystemdCgroup = true"; exit 1; }

# Units the container node image masked for containers that a VM needs. The masks are links to
# /dev/null; gettys, resolved, timesyncd (no NTP server is reachable), apt's and e2scrub's timers
# and haproxy stay masked as on container nodes.
for u in systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
  systemd-udev-trigger.service systemd-remount-fs.service systemd-modules-load.service \
  sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount sys-fs-fuse-connections.mount; do
  f=/etc/systemd/system/$u
  if [[ -L $f && $(readlink "$f") == /dev/null ]]; then rm -f "$f"; fi
done
systemctl enable systemd-networkd.service ssh.service mk-guest-config.service mk-fw-cfg-keys.service \
  mk-growfs.service >/tmp/enable.log 2>&1 || { cat /tmp/enable.log >&2; exit 1; }
# Nothing waits for network-online.target; the cluster NIC needs no carrier.
systemctl disable systemd-networkd-wait-online.service >/dev/null 2>&1 || true
rm -f /etc/systemd/system/network-online.target.wants/systemd-networkd-wait-online.service

# Container-only: the node container's PID 1 script, and the build's own leftovers.
rm -f /usr/local/bin/mk-node-entrypoint /usr/sbin/policy-rc.d
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/* /usr/share/info/* \
  /var/log/apt/* /var/log/dpkg.log /var/cache/debconf/*-old /tmp/apt.log /tmp/enable.log
# Identity comes at boot: a machine id of its own per VM (systemd makes one when the file is empty).
: >/etc/machine-id
rm -f /var/lib/dbus/machine-id
echo "$release"

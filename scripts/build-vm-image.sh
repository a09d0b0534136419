#!/usr/bin/env bash
# The qemu driver's VM node image, built from mk's Kubernetes node image without any registry:
#
#   npm run vm-image          build (or reuse) $MK_VM_CACHE/node-v<version>; prints that folder last
#
# The Kubernetes node image (`npm run node-image:k8s`: systemd, containerd, runc, CNI plugins,
# kubelet/kubeadm/kubectl, the control-plane images already in containerd's store) plus Debian's
# kernel, openssh-server and udev, with what only containers need undone; exported, written into an
# ext4 file system (mkfs.ext4 -d: no loop device, no privileges) and converted to qcow2. Output:
# vmlinuz, initrd.img, disk.qcow2 (the root file system, no partition table: root=/dev/vda) and
# manifest.json. Rebuilt only when the node image or this script (or scripts/vm/) changes.
#
# The guest, as src/drivers/qemu/ boots it (scripts/vm/mk-vm-setup does the per-node part):
#   kernel command line  root=/dev/vda rw console=ttyS0 mk.hostname=NAME mk.net=MAC,ADDR/PREFIX
#   fw_cfg               opt/mk/ssh_host_ed25519_key (the host key mk made and pins; sshd offers no
#                        other), opt/mk/authorized_keys (root's)
#   NICs                 the one with MAC: the cluster network, ADDR/PREFIX, no gateway; any other:
#                        DHCP (qemu's user-mode network: the default route); DNS 10.0.2.3
#   disk                 an overlay larger than the image: the root file system grows to it at boot
# Needs: Docker, the node image, qemu-utils, e2fsprogs, and the Debian mirror from a container.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
VERSION=${MK_K8S_VERSION:-$(tr -d '[:space:]' <"$repo/test/k8s/VERSION")}
VERSION=${VERSION#v}
NODE_IMAGE=${MK_VM_NODE_IMAGE:-mk.local/node:v$VERSION}
OUT=${MK_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mk/vm}/node-v$VERSION
PACKAGES=(linux-image-amd64 initramfs-tools openssh-server udev e2fsprogs)

T0=$(date +%s)
say() { printf '[vm-image +%ss] %s\n' "$(( $(date +%s) - T0 ))" "$*" >&2; }

for tool in docker qemu-img mkfs.ext4; do
  command -v "$tool" >/dev/null || { echo "vm-image needs $tool (sudo bash scripts/install-deps.sh)" >&2; exit 1; }
done
NODE_ID=$(docker image inspect --format '{{.Id}}' "$NODE_IMAGE" 2>/dev/null) || {
  echo "no node image $NODE_IMAGE: build it first (npm run node-image:k8s)" >&2; exit 1; }
INPUT=$( { cat "${BASH_SOURCE[0]}" "$here/vm/"*; echo "$NODE_ID"; printf '%s\n' "${PACKAGES[@]}"; } | sha256sum | cut -c1-16)

mkdir -p "$(dirname "$OUT")"
exec 9>"$OUT.lock"
flock 9
if [[ -f $OUT/manifest.json ]] && grep -q "\"input\": \"$INPUT\"" "$OUT/manifest.json"; then
  say "up to date ($NODE_IMAGE, input $INPUT)"
  echo "$OUT"
  exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mk-vmbuild.XXXXXX")
ctr=mk-vmbuild-$$
cleanup() { docker rm -f "$ctr" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

say "guest packages into $NODE_IMAGE: ${PACKAGES[*]}"
# The container's own entrypoint boots systemd: a shell does the install instead. Host network: the
# Debian mirror the node image's sources name.
docker run --name "$ctr" --network host --entrypoint /bin/sh -e DEBIAN_FRONTEND=noninteractive \
  -v "$here/vm:/mk-vm:ro" "$NODE_IMAGE" -c '
set -eu
apt-get update -qq
apt-get install -y -qq --no-install-recommends '"${PACKAGES[*]}"' >/dev/null
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
# sshd: only the key mk gives each VM (mk-vm-setup writes it), root by key only.
rm -f /etc/ssh/ssh_host_*
cat >/etc/ssh/sshd_config.d/mk.conf <<CONF
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
CONF
install -m 0755 /mk-vm/mk-vm-setup /usr/local/sbin/mk-vm-setup
cat >/etc/systemd/system/mk-vm-setup.service <<UNIT
[Unit]
Description=mk: node name, cluster address and ssh keys of this VM
DefaultDependencies=no
After=local-fs.target
Before=network-pre.target systemd-networkd.service ssh.service sysinit.target
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/mk-vm-setup

[Install]
WantedBy=sysinit.target
UNIT
systemctl enable mk-vm-setup.service systemd-networkd.service ssh.service >/dev/null 2>&1
# What the container image masks because a container has no kernel of its own: a VM has one.
for u in systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
  systemd-udev-trigger.service systemd-udev-settle.service systemd-remount-fs.service \
  systemd-modules-load.service serial-getty@.service getty.target sys-kernel-config.mount; do
  systemctl unmask "$u" >/dev/null 2>&1 || true
done
printf "overlay\nbr_netfilter\n" >/etc/modules-load.d/mk.conf
printf "net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\n" >/etc/sysctl.d/90-mk.conf
printf "/dev/vda / ext4 rw,discard,errors=remount-ro 0 1\n" >/etc/fstab
: >/etc/machine-id
rm -f /usr/local/bin/mk-node-entrypoint
ls /boot
' >&2

say "export"
mkdir "$WORK/root"
docker export "$ctr" | tar -x --numeric-owner --xattrs --xattrs-include='*' -C "$WORK/root"
docker rm -f "$ctr" >/dev/null
# What Docker puts in every container's file system (and mounts over /etc's resolv.conf, hosts and
# hostname while it runs): the guest's own. DNS: qemu's user-mode network's resolver.
rm -f "$WORK/root/.dockerenv"
printf 'nameserver 10.0.2.3\n' >"$WORK/root/etc/resolv.conf"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$WORK/root/etc/hosts"
printf 'mk-node\n' >"$WORK/root/etc/hostname"
kernel=$(ls "$WORK/root/boot"/vmlinuz-* | sort -V | tail -n 1)
initrd=$(ls "$WORK/root/boot"/initrd.img-* | sort -V | tail -n 1)

used=$(du -sm "$WORK/root" | cut -f1)
size=$(( used + used / 4 + 512 ))
say "mkfs.ext4 -d (${used} MiB of files, a ${size} MiB file system)"
truncate -s "${size}M" "$WORK/root.raw"
mkfs.ext4 -q -F -L mk-root -d "$WORK/root" "$WORK/root.raw"

say "qcow2"
rm -rf "$OUT.new" && mkdir -p "$OUT.new"
qemu-img convert -O qcow2 -o compression_type=zlib -c "$WORK/root.raw" "$OUT.new/disk.qcow2"
cp "$kernel" "$OUT.new/vmlinuz"
cp "$initrd" "$OUT.new/initrd.img"
disk_bytes=$(stat -c %s "$OUT.new/disk.qcow2")
cat >"$OUT.new/manifest.json" <<JSON
{
  "kubernetesVersion": "v$VERSION",
  "nodeImage": "$NODE_IMAGE",
  "nodeImageId": "$NODE_ID",
  "input": "$INPUT",
  "kernel": "$(basename "$kernel")",
  "built": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "diskBytes": $disk_bytes,
  "virtualBytes": $(( size * 1024 * 1024 ))
}
JSON
rm -rf "$OUT" && mv "$OUT.new" "$OUT"
say "done: $OUT ($(( disk_bytes / 1024 / 1024 )) MiB qcow2)"
echo "$OUT"

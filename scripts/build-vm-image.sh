#!/usr/bin/env bash
# The VM node image the qemu driver boots, made from mk's Kubernetes node image (no registry).
#
#   scripts/build-vm-image.sh        build (or reuse) it; prints its folder last
#
# Output: ${MK_VM_CACHE:-${XDG_CACHE_HOME:-~/.cache}/mk/vm}/node-v<version>/
#   vmlinuz, initrd.img   Debian's kernel (linux-image-cloud-amd64: the generic one's configuration for
#                         cgroups, netfilter, overlayfs, virtio and fw_cfg, without its hardware drivers)
#   disk.qcow2            the root file system: ext4 on the whole disk (no partition table), compressed
#   manifest.json         {kubernetesVersion, nodeImage, nodeImageId, built, diskBytes, virtualBytes,
#                          inputHash, kernel}
# The guest runs exactly what a container node runs: the node image (mk.local/node:<version>, made by
# scripts/build-k8s-node-image.sh when missing) plus a kernel, udev, sshd, ping and the units of
# scripts/vm-image/, with the container-only parts undone (masks of udev/modules-load/remount-fs,
# the entrypoint script, containerd's restrict_oom_score_adj) and containerd on systemd's cgroups.
# Rebuilt only when the node image's ID, this script, scripts/vm-image/ or the kernel package change.
# A rebuild replaces disk.qcow2: overlays made on the old one must not be booted on the new one
# (compare manifest.json's inputHash with the one a node was made from).
#
# Guest contract (what the qemu driver relies on):
#   boot     -kernel vmlinuz -initrd initrd.img
#            -append "root=/dev/vda rw console=ttyS0 mk.hostname=NAME mk.net=MAC,ADDR/PREFIX"
#            disk: a qcow2 overlay of disk.qcow2 (qemu-img create -f qcow2 -F qcow2 -b .../disk.qcow2
#            overlay.qcow2 20G) on virtio-blk; mk-growfs.service grows / online to the disk's size.
#   network  every virtio NIC is matched by driver and MAC, never by name. The NIC whose MAC is in
#            mk.net= gets ADDR/PREFIX statically, no gateway (qemu -netdev socket,mcast=...). Every
#            other virtio NIC gets DHCP: qemu's user-mode network (10.0.2.15, default route via
#            10.0.2.2). /etc/resolv.conf: nameserver 10.0.2.3. systemd-networkd; it leaves routes and
#            rules it did not make alone (CNI's, kube-proxy's). Every VM has the same 10.0.2.15:
#            whatever guesses a node's address from the default route must be told ADDR instead.
#   identity mk.hostname= is the hostname (/etc/hostname) and resolves to ADDR in /etc/hosts (so the
#            kubelet's own guess is ADDR). A machine id of its own, made at the first boot.
#   keys     qemu -fw_cfg name=opt/mk/authorized_keys,file=...      -> /root/.ssh/authorized_keys
#            qemu -fw_cfg name=opt/mk/ssh_host_ed25519_key,file=... -> sshd's only host key (OpenSSH
#            private key, unencrypted), read at every boot; with none (and none from an earlier
#            boot of the disk) sshd does not start. Root by key only, no PAM.
#   kubeadm  no swap; overlay and br_netfilter loaded; ip_forward=1, bridge-nf-call-iptables=1;
#            cgroup v2 with containerd's SystemdCgroup = true (mk reads it from `containerd config
#            dump` and configures the kubelet to match). containerd holds the control-plane images.
#   ready    sshd answers; systemctl is-system-running --wait says running.
#
# Environment:
#   MK_VM_CACHE             output root (default ${XDG_CACHE_HOME:-~/.cache}/mk/vm)
#   MK_K8S_VERSION          Kubernetes version (default test/k8s/VERSION)
#   MK_VM_NODE_IMAGE        container node image to start from (default mk.local/node:<version>)
#   MK_VM_KERNEL_PACKAGE    Debian kernel package (default linux-image-cloud-amd64)
#   MK_DEBIAN_MIRROR        Debian mirror for the build container's apt (default: the image's own)
# Needs root (the root file system's owners), Docker, e2fsprogs (mkfs.ext4 -d), qemu-utils (qemu-img).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
SELF=$here/$(basename "${BASH_SOURCE[0]}")
GUEST=$here/vm-image
VERSION=${MK_K8S_VERSION:-$(tr -d '[:space:]' <"$repo/test/k8s/VERSION")}
VERSION=v${VERSION#v}
NODE_IMAGE=${MK_VM_NODE_IMAGE:-mk.local/node:$VERSION}
KERNEL_PACKAGE=${MK_VM_KERNEL_PACKAGE:-linux-image-cloud-amd64}
MIRROR=${MK_DEBIAN_MIRROR:-}
ROOT=${MK_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mk/vm}
OUT=$ROOT/node-$VERSION

T0=$(date +%s.%N)
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1fs", b - a }'; }
say() { echo "[vm-image $(elapsed)] $*" >&2; }
die() { echo "build-vm-image: $*" >&2; exit 1; }

case ${1:-} in
  "") ;;
  -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SELF"; exit 0 ;;
  *) die "unknown argument: $1" ;;
esac

# A fresh machine: the packages and the Docker engine the node image needs (as root: installed, started).
bash "$repo/scripts/ensure-host.sh" >&2
for tool in qemu-img mkfs.ext4 e2fsck; do
  command -v "$tool" >/dev/null || die "$tool not found: sudo bash scripts/install-deps.sh (qemu-utils, e2fsprogs)"
done

if ! docker image inspect "$NODE_IMAGE" >/dev/null 2>&1; then
  [[ -z ${MK_VM_NODE_IMAGE:-} ]] || die "no image $NODE_IMAGE in Docker"
  say "no $NODE_IMAGE: building it (scripts/build-k8s-node-image.sh)"
  built=$(bash "$repo/scripts/build-k8s-node-image.sh" | sed -n '$p')
  [[ $built == "$NODE_IMAGE" ]] || die "scripts/build-k8s-node-image.sh made '$built', not $NODE_IMAGE"
fi
NODE_ID=$(docker image inspect -f '{{.Id}}' "$NODE_IMAGE")

HASH=$( {
  cat "$SELF"
  (cd "$GUEST" && find . -type f -printf '%p %m\n' | LC_ALL=C sort && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 cat)
  printf '%s\n' "$NODE_ID" "$KERNEL_PACKAGE" "$MIRROR"
} | sha256sum | cut -c1-16)

current() { [[ -f $OUT/vmlinuz && -f $OUT/initrd.img && -f $OUT/disk.qcow2 ]] && grep -q "\"inputHash\": \"$HASH\"" "$OUT/manifest.json" 2>/dev/null; }
if current; then
  say "$OUT is current ($NODE_IMAGE, input $HASH)"
  echo "$OUT"
  exit 0
fi

[[ $(id -u) == 0 ]] || die "needs root: the root file system keeps its files' owners (run as root or under sudo)"
mkdir -p "$ROOT"
exec 9>"$ROOT/.node-$VERSION.lock"
flock 9
if current; then
  say "$OUT was built meanwhile"
  echo "$OUT"
  exit 0
fi
avail=$(df -P -B1M "$ROOT" | awk 'NR == 2 { print $4 }')
need=$(docker image inspect -f '{{.Size}}' "$NODE_IMAGE" | awk '{ printf "%d", $1 / 1048576 * 3 + 1024 }')
((avail >= need)) || die "$ROOT has ${avail} MB free; building needs about ${need} MB"

WORK=$(mktemp -d "$ROOT/.build-XXXXXX")
BUILDER=""
cleanup() {
  if [[ -n $BUILDER ]]; then docker rm -f "$BUILDER" >/dev/null 2>&1 || true; fi
  rm -rf -- "$WORK"
}
trap cleanup EXIT

# --- the node image + kernel, sshd, udev and the guest's units, in a build container -------------
# Host networking: apt reaches the mirror as this machine does; no network of Docker's is touched.
say "build container from $NODE_IMAGE ($NODE_ID)"
BUILDER=$(docker run -d --name "mk-vmbuild-$HASH-$$" --label mk.dev/component=vm-image-build \
  --network host --entrypoint sleep "$NODE_IMAGE" infinity)
tar -C "$GUEST/rootfs" --owner=0 --group=0 --numeric-owner -cf - etc usr | docker cp - "$BUILDER:/"
docker cp "$GUEST/setup.sh" "$BUILDER:/tmp/mk-vm-setup.sh"
release=$(docker exec "$BUILDER" bash /tmp/mk-vm-setup.sh "$KERNEL_PACKAGE" "$MIRROR" | sed -n '$p')
[[ -n $release ]] || die "setup printed no kernel release"
docker exec "$BUILDER" rm -f /tmp/mk-vm-setup.sh
kubeadm=$(docker exec "$BUILDER" kubeadm version -o short)
[[ $kubeadm == "$VERSION" ]] || die "$NODE_IMAGE has kubeadm $kubeadm, not $VERSION (set MK_K8S_VERSION)"
docker stop -t 1 "$BUILDER" >/dev/null

# --- its file system, as root: owners, modes, xattrs, hard links ----------------------------------
say "exporting the file system (kernel $release)"
ROOTFS=$WORK/rootfs
mkdir -p "$ROOTFS" "$WORK/out"
docker export "$BUILDER" | tar -x -p --numeric-owner --xattrs --xattrs-include='*' -C "$ROOTFS"
docker rm -f "$BUILDER" >/dev/null
BUILDER=""
# Docker's per-container files; the guest writes hostname and hosts itself at boot.
rm -f "$ROOTFS/.dockerenv"
echo localhost >"$ROOTFS/etc/hostname"
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$ROOTFS/etc/hosts"
echo 'nameserver 10.0.2.3' >"$ROOTFS/etc/resolv.conf"
# The kernel and initrd boot from outside the disk (qemu -kernel/-initrd).
mv "$ROOTFS/boot/vmlinuz-$release" "$WORK/out/vmlinuz"
mv "$ROOTFS/boot/initrd.img-$release" "$WORK/out/initrd.img"
find "$ROOTFS" "$ROOTFS/boot" -maxdepth 1 -xtype l \( -name 'vmlinuz*' -o -name 'initrd.img*' \) -delete

# --- ext4 from the folder (no loop device), then compressed qcow2 -------------------------------
used=$(du -s -B1M "$ROOTFS" | cut -f1)
files=$(find "$ROOTFS" -xdev | wc -l)
# Room for a node's first minutes before the root file system is grown; a multiple of 256 MB.
size=$(((used * 13 / 10 + 512 + 255) / 256 * 256))
inodes=$((size * 64))
((inodes > files * 2)) || inodes=$((files * 2))
say "mkfs.ext4 -d: ${used} MB in $files files -> ${size} MB file system"
RAW=$WORK/disk.raw
mkfs.ext4 -q -F -L mk-root -m 0 -N "$inodes" -E lazy_itable_init=0,lazy_journal_init=0 \
  -d "$ROOTFS" "$RAW" "${size}M" >/dev/null
rm -rf -- "$ROOTFS"
e2fsck -f -n "$RAW" >"$WORK/fsck.log" 2>&1 || { cat "$WORK/fsck.log" >&2; die "e2fsck found errors in the new file system"; }
# zstd: about 5x faster to write than zlib here, and faster to read (qemu >= 5.1 reads it).
qcow2=()
if qemu-img create -f qcow2 -o help /dev/null 2>/dev/null | grep -q compression_type; then qcow2=(-o compression_type=zstd); fi
say "qemu-img convert -c -O qcow2 ${qcow2[*]}"
qemu-img convert -c -O qcow2 "${qcow2[@]}" "$RAW" "$WORK/out/disk.qcow2"
rm -f "$RAW"

disk_bytes=$(stat -c %s "$WORK/out/disk.qcow2")
virtual_bytes=$(qemu-img info --output=json "$WORK/out/disk.qcow2" | sed -n 's/.*"virtual-size": *\([0-9]*\).*/\1/p')
cat >"$WORK/out/manifest.json" <<JSON
{
  "kubernetesVersion": "$VERSION",
  "nodeImage": "$NODE_IMAGE",
  "nodeImageId": "$NODE_ID",
  "built": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "diskBytes": $disk_bytes,
  "virtualBytes": $virtual_bytes,
  "inputHash": "$HASH",
  "kernel": "$release",
  "kernelPackage": "$KERNEL_PACKAGE"
}
JSON

# Replace the folder in one step (a VM running from the old disk keeps its open file).
if [[ -e $OUT ]]; then mv "$OUT" "$WORK/old"; fi
mv "$WORK/out" "$OUT"
say "built $OUT: disk.qcow2 $((disk_bytes / 1048576)) MB (virtual $((virtual_bytes / 1048576)) MB), initrd $(($(stat -c %s "$OUT/initrd.img") / 1024)) KB"
echo "$OUT"

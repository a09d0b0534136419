#!/usr/bin/env bash
# Boots two VMs of the VM node image (scripts/build-vm-image.sh) the way the qemu driver does, checks
# the guest contract over ssh and prints timings and memory.
#
#   test/k8s/vm-smoke.sh [IMAGE_DIR]     default: where npm run vm-image writes test/k8s/VERSION's image
#
# Per VM: a fresh ed25519 host key (fw_cfg) pinned in a known_hosts of its own (StrictHostKeyChecking
# =yes), a client key (fw_cfg authorized_keys), a 20G qcow2 overlay, qemu daemonized under TCG (KVM
# here is PVM, which Debian's kernel does not boot under). Checks: hostname and its /etc/hosts line,
# the cluster address on the NIC with the given MAC and the default route on the user-mode NIC, ping
# both ways over the multicast cluster network, systemctl is-system-running, sshd's one host key,
# swap, modules, sysctls, cgroup v2 + containerd's SystemdCgroup, the preloaded images, the grown
# root file system, kubeadm's preflight. Then ACPI power-down through QMP (both qemu must exit), and
# the first VM boots once more from its overlay (same machine id, same pinned host key).
#
# Environment:
#   MK_VM_SMOKE_PORT     first of the 127.0.0.1 ports used (default 23711: ssh 23711/23712, API 23721/23722)
#   MK_VM_SMOKE_MCAST    the cluster network's multicast group:port (default 230.77.13.7:23777)
#   MK_VM_SMOKE_ACCEL    qemu -accel value (default tcg,tb-size=256)
#   MK_VM_SMOKE_KEEP=1   leave the VMs running at the end (prints how to reach them)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERSION=v$(tr -d '[:space:]' <"$here/VERSION" | sed 's/^v//')
IMAGE=${1:-${MK_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mk/vm}/node-$VERSION}
PORT=${MK_VM_SMOKE_PORT:-23711}
MCAST=${MK_VM_SMOKE_MCAST:-230.77.13.7:23777}
ACCEL=${MK_VM_SMOKE_ACCEL:-tcg,tb-size=256}
NAMES=(mk-vmsmoke-a mk-vmsmoke-b)
ADDRS=(10.77.0.11 10.77.0.12)
MACS=(52:54:00:77:00:11 52:54:00:77:00:12)

say() { echo "[vm-smoke $(date -u +%H:%M:%S)] $*" >&2; }
die() { echo "vm-smoke: FAIL: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

for f in vmlinuz initrd.img disk.qcow2 manifest.json; do
  [[ -f $IMAGE/$f ]] || die "no $IMAGE/$f: build it with npm run vm-image"
done
command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64 (apt-get install qemu-system-x86 qemu-utils)"
for p in "$PORT" $((PORT + 1)) $((PORT + 10)) $((PORT + 11)); do
  if ss -Htln "sport = :$p" | grep -q .; then die "port $p is taken on this machine (set MK_VM_SMOKE_PORT)"; fi
done

T=$(mktemp -d "${TMPDIR:-/tmp}/mk-vmsmoke.XXXXXX")
vm_pid() { # prints the pid of VM i while that process is still ours
  local pid
  pid=$(cat "$T/vm$1.pid" 2>/dev/null) || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$T/vm$1.qcow2" || return 1
  echo "$pid"
}
qmp() { # <vm index> <command>: capabilities negotiation, then the command
  node -e '
    const [sock, cmd] = process.argv.slice(1);
    const s = require("node:net").connect(sock);
    const timer = setTimeout(() => { console.error("qmp: no answer"); process.exit(1); }, 10000);
    let buf = "", step = 0;
    const send = (o) => s.write(JSON.stringify(o) + "\n");
    s.on("error", (e) => { console.error("qmp: " + e.message); process.exit(1); });
    s.on("data", (d) => {
      buf += d;
      for (let i; (i = buf.indexOf("\n")) >= 0; ) {
        const msg = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (msg.error) { console.error("qmp: " + JSON.stringify(msg.error)); process.exit(1); }
        if (msg.QMP && step === 0) { step = 1; send({ execute: "qmp_capabilities" }); }
        else if ("return" in msg && step === 1) { step = 2; send({ execute: cmd }); }
        else if ("return" in msg && step === 2) { clearTimeout(timer); s.end(); }
      }
    });' "$T/vm$1.qmp" "$2"
}
cleanup() {
  local i pid
  if [[ ${MK_VM_SMOKE_KEEP:-} == 1 ]]; then
    say "kept: $T (ssh -i $T/client -o UserKnownHostsFile=$T/known_hosts -p $PORT root@127.0.0.1)"
    return
  fi
  for i in 0 1; do
    pid=$(vm_pid "$i") || continue
    qmp "$i" quit >/dev/null 2>&1 || true
    sleep 1
    if pid=$(vm_pid "$i"); then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  rm -rf -- "$T"
}
trap cleanup EXIT

# --- keys: mk makes both, so the host key is known before the VM answers ---------------------------
ssh-keygen -q -t ed25519 -N '' -C mk-vmsmoke-client -f "$T/client"
: >"$T/known_hosts"
for i in 0 1; do
  ssh-keygen -q -t ed25519 -N '' -C "${NAMES[i]}" -f "$T/host$i"
  echo "[127.0.0.1]:$((PORT + i)) $(cut -d' ' -f1,2 "$T/host$i.pub")" >>"$T/known_hosts"
  qemu-img create -q -f qcow2 -F qcow2 -b "$IMAGE/disk.qcow2" "$T/vm$i.qcow2" 20G
done
vssh() { # <vm index> <command...>
  local i=$1
  shift
  ssh -q -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$T/known_hosts" \
    -o GlobalKnownHostsFile=/dev/null -o ConnectTimeout=5 -o IdentitiesOnly=yes -i "$T/client" \
    -p $((PORT + i)) root@127.0.0.1 "$@"
}

boot() { # <vm index>: starts qemu (daemonized) and waits for sshd; prints the seconds it took
  local i=$1 t0
  t0=$(now)
  qemu-system-x86_64 -name "${NAMES[i]}" -nodefaults -machine q35 -accel "$ACCEL" -cpu max -smp 2 -m 2048 \
    -kernel "$IMAGE/vmlinuz" -initrd "$IMAGE/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 mk.hostname=${NAMES[i]} mk.net=${MACS[i]},${ADDRS[i]}/24" \
    -drive "file=$T/vm$i.qcow2,if=virtio,format=qcow2,cache=unsafe,discard=unmap" \
    -netdev "user,id=nat,hostfwd=tcp:127.0.0.1:$((PORT + i))-:22,hostfwd=tcp:127.0.0.1:$((PORT + 10 + i))-:6443" \
    -device virtio-net-pci,netdev=nat \
    -netdev "socket,id=cluster,mcast=$MCAST,localaddr=127.0.0.1" \
    -device "virtio-net-pci,netdev=cluster,mac=${MACS[i]}" \
    -fw_cfg "name=opt/mk/ssh_host_ed25519_key,file=$T/host$i" \
    -fw_cfg "name=opt/mk/authorized_keys,file=$T/client.pub" \
    -device virtio-rng-pci -display none -serial "file:$T/vm$i.console" \
    -qmp "unix:$T/vm$i.qmp,server=on,wait=off" -pidfile "$T/vm$i.pid" -daemonize
  while ! vssh "$i" true 2>/dev/null; do
    vm_pid "$i" >/dev/null || { tail -n 30 "$T/vm$i.console" >&2; die "${NAMES[i]}: qemu exited"; }
    (($(since "$t0" | cut -d. -f1) < 300)) || { tail -n 30 "$T/vm$i.console" >&2; die "${NAMES[i]}: no ssh within 300 s"; }
    sleep 0.5
  done
  since "$t0"
}

check() { # <vm index>
  local i=$1 j=$((1 - $1)) out state images
  state=$(vssh "$i" 'timeout 240 systemctl is-system-running --wait' || true)
  [[ $state == running ]] || { vssh "$i" 'systemctl --failed --no-legend' >&2 || true; die "${NAMES[i]}: systemctl is-system-running: $state"; }
  [[ $(vssh "$i" hostname) == "${NAMES[i]}" ]] || die "${NAMES[i]}: hostname is $(vssh "$i" hostname)"
  vssh "$i" "getent hosts ${NAMES[i]}" | grep -q "^${ADDRS[i]} " || die "${NAMES[i]}: its name does not resolve to ${ADDRS[i]}"
  out=$(vssh "$i" "ip -o -4 addr show dev \$(ip -o link | awk -v m=${MACS[i]} '\$0 ~ m { sub(\":\", \"\", \$2); print \$2 }')")
  grep -q "inet ${ADDRS[i]}/24" <<<"$out" || die "${NAMES[i]}: the NIC with ${MACS[i]} has no ${ADDRS[i]}/24: $out"
  vssh "$i" 'ip -4 route show default' | grep -q '^default via 10.0.2.2 ' || die "${NAMES[i]}: default route: $(vssh "$i" 'ip route')"
  vssh "$i" 'cat /etc/resolv.conf' | grep -qx 'nameserver 10.0.2.3' || die "${NAMES[i]}: resolv.conf"
  vssh "$i" "ping -c 3 -i 0.2 -W 2 ${ADDRS[j]}" >/dev/null || die "${NAMES[i]}: no ping to ${ADDRS[j]} over the cluster network"
  [[ $(vssh "$i" 'ls /etc/ssh/ | grep ^ssh_host_ | tr "\n" " "') == 'ssh_host_ed25519_key ssh_host_ed25519_key.pub ' ]] ||
    die "${NAMES[i]}: host keys: $(vssh "$i" 'ls /etc/ssh/ssh_host_*')"
  vssh "$i" 'sshd -T' | grep -qx 'passwordauthentication no' || die "${NAMES[i]}: sshd allows passwords"
  [[ $(vssh "$i" 'tail -n +2 /proc/swaps | wc -l') == 0 ]] || die "${NAMES[i]}: swap is on"
  vssh "$i" 'grep -E "^(overlay|br_netfilter) " /proc/modules | wc -l' | grep -qx 2 || die "${NAMES[i]}: overlay/br_netfilter not loaded"
  [[ $(vssh "$i" 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/bridge/bridge-nf-call-iptables | tr -d "\n"') == 11 ]] || die "${NAMES[i]}: sysctls"
  [[ $(vssh "$i" 'stat -fc %T /sys/fs/cgroup') == cgroup2fs ]] || die "${NAMES[i]}: not cgroup v2"
  vssh "$i" 'containerd config dump' | grep -q 'SystemdCgroup = true' || die "${NAMES[i]}: containerd's cgroup driver is not systemd"
  images=$(vssh "$i" 'ctr -n k8s.io images ls -q' | grep -c '^registry.k8s.io/' || true)
  ((images >= 7)) || die "${NAMES[i]}: containerd lists $images registry.k8s.io images"
  out=$(vssh "$i" 'df -B1 --output=size / | tail -n 1')
  ((out > 19 * 1024 * 1024 * 1024)) || die "${NAMES[i]}: / is $out bytes, not grown to the 20G disk"
  say "${NAMES[i]}: running; ${ADDRS[i]} on ${MACS[i]}; pings ${ADDRS[j]}; / is $((out / 1048576)) MB; $images images"
}

say "image $IMAGE ($(sed -n 's/.*"inputHash": "\(.*\)".*/\1/p' "$IMAGE/manifest.json")), accel $ACCEL, temp $T"
say "booting ${NAMES[0]} alone"
s0=$(boot 0)
t=$(now)
vssh 0 'systemctl is-system-running --wait' >/dev/null || true
r0=$(since "$t")
say "booting ${NAMES[1]} with ${NAMES[0]} running"
s1=$(boot 1)
t=$(now)
vssh 1 'systemctl is-system-running --wait' >/dev/null || true
r1=$(since "$t")
check 0
check 1
say "kubeadm init phase preflight on ${NAMES[0]}"
printf 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: %s\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: %s\n' \
  "${ADDRS[0]}" "$VERSION" | vssh 0 'cat >/tmp/mk-vmsmoke-kubeadm.yaml'
vssh 0 'kubeadm init phase preflight --config /tmp/mk-vmsmoke-kubeadm.yaml' >"$T/preflight.log" 2>&1 ||
  { cat "$T/preflight.log" >&2; die "kubeadm preflight failed"; }
grep -i warning "$T/preflight.log" >&2 || true
rss=()
for i in 0 1; do rss+=("$(awk '/^VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$(vm_pid "$i")/status")"); done
overlay=()
for i in 0 1; do overlay+=("$(du -m "$T/vm$i.qcow2" | cut -f1)"); done
boots=()
for i in 0 1; do boots+=("$(vssh "$i" 'systemd-analyze | head -n 1' | sed 's/^Startup finished in //')"); done

clock=()
for i in 0 1; do # the guest's clock against this machine's (no NTP server is reachable from a guest)
  h0=$(now)
  g=$(vssh "$i" 'date +%s.%N')
  h1=$(now)
  clock+=("$(awk -v a="$h0" -v g="$g" -v b="$h1" 'BEGIN { printf "%+.2f s (+/- %.2f)", g - (a + b) / 2, (b - a) / 2 }')")
done
machine_id=$(vssh 0 'cat /etc/machine-id')
if [[ ${MK_VM_SMOKE_KEEP:-} == 1 ]]; then exit 0; fi
say "system_powerdown through QMP"
t=$(now)
for i in 0 1; do qmp "$i" system_powerdown; done
for i in 0 1; do
  while vm_pid "$i" >/dev/null; do
    (($(since "$t" | cut -d. -f1) < 60)) || die "${NAMES[i]}: qemu still runs 60 s after system_powerdown"
    sleep 0.2
  done
done
off=$(since "$t")

# A stopped node starts again from its overlay (mk stop / mk start): same identity, same pinned key.
say "booting ${NAMES[0]} again from its overlay"
s2=$(boot 0)
state=$(vssh 0 'timeout 240 systemctl is-system-running --wait' || true)
[[ $state == running ]] || die "${NAMES[0]} after a restart: systemctl is-system-running: $state"
[[ $(vssh 0 'cat /etc/machine-id') == "$machine_id" ]] || die "${NAMES[0]}: another machine id after a restart"
[[ $(vssh 0 hostname) == "${NAMES[0]}" ]] || die "${NAMES[0]}: another hostname after a restart"
qmp 0 system_powerdown
t=$(now)
while vm_pid 0 >/dev/null; do
  (($(since "$t" | cut -d. -f1) < 60)) || die "${NAMES[0]}: qemu still runs 60 s after system_powerdown"
  sleep 0.2
done

cat <<REPORT
vm-smoke: PASS ($IMAGE)
  image               disk.qcow2 $(($(stat -c %s "$IMAGE/disk.qcow2") / 1048576)) MB (virtual $(($(sed -n 's/.*"virtualBytes": \([0-9]*\).*/\1/p' "$IMAGE/manifest.json") / 1048576)) MB), vmlinuz $(($(stat -c %s "$IMAGE/vmlinuz") / 1024)) KB, initrd $(($(stat -c %s "$IMAGE/initrd.img") / 1024)) KB
  ${NAMES[0]}        qemu start -> sshd answers ${s0} s (alone); then running after ${r0} s more; systemd: ${boots[0]}
  ${NAMES[1]}        qemu start -> sshd answers ${s1} s (with ${NAMES[0]} running); then running after ${r1} s more; systemd: ${boots[1]}
  qemu RSS            ${rss[0]} MB, ${rss[1]} MB (-m 2048, $ACCEL)
  overlays after boot ${overlay[0]} MB, ${overlay[1]} MB
  guest clock - host  ${clock[0]}, ${clock[1]}
  power-down          both qemu exited ${off} s after system_powerdown
  restart             ${NAMES[0]} from its overlay: sshd answers after ${s2} s, same machine id and host key
REPORT

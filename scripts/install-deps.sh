#!/usr/bin/env bash
# Debian packages mk's tests need: the Docker engine, podman (its Docker-compatible API service
# runs the podman driver's tests; curl pings it), debootstrap + zstd for the node image, qemu (the
# qemu driver's VMs and their images: qemu-img, and mkfs.ext4 -d from e2fsprogs),
# what the Kubernetes test bed builds with, and zsh and fish (mk completion's scripts are loaded in
# them). Installs only what is missing.
set -euo pipefail
want=(docker.io podman curl debootstrap zstd openssl iproute2 gcc libc6-dev zsh fish qemu-system-x86 qemu-utils e2fsprogs)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# The image builders also `apt-get download` .debs, which needs package lists.
if [ "${#missing[@]}" -gt 0 ] || ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then
  apt-get update -qq
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "system packages ok"

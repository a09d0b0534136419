#!/usr/bin/env bash
# What building node images (and running mk's tests) needs on this machine: the Debian packages of
# scripts/install-deps.sh and a running Docker engine. As root, installs and starts what is missing;
# otherwise says exactly what is missing and the one command that fixes it. Quiet when all is there.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
missing=()
for tool in docker debootstrap zstd; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
engine=true
if [ "${#missing[@]}" -eq 0 ] && ! docker info >/dev/null 2>&1; then engine=false; fi
[ "${#missing[@]}" -eq 0 ] && $engine && exit 0
if [ "$(id -u)" -eq 0 ]; then
  [ "${#missing[@]}" -gt 0 ] && bash "$here/install-deps.sh"
  bash "$here/start-docker.sh"
  exit 0
fi
{
  [ "${#missing[@]}" -gt 0 ] && echo "missing on this machine: ${missing[*]}"
  $engine || echo "no Docker engine answers (docker info)"
  echo "fix it with: sudo bash $here/install-deps.sh && sudo bash $here/start-docker.sh"
  echo "(or start your own engine, e.g. sudo systemctl start docker, and install the missing packages)"
} >&2
exit 1

#!/usr/bin/env bash
# A node image with Kubernetes for machines without a container registry (like this project's CI):
# builds the Kubernetes version in test/k8s/VERSION from source (test/k8s/build.sh, ~7 min once,
# cached under ~/.cache/mk/k8s), bakes it with containerd into a node image (test/k8s/node-image.sh,
# ~2 min once) and tags it mk.local/node:<version>, the image clusters/dev.yaml uses.
# Prints the tag last. With a registry, leave driver.docker.image empty instead (kindest/node:<version>).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# A fresh machine: the packages and the Docker engine this needs (as root: installed and started).
bash "$repo/scripts/ensure-host.sh" >&2
version=${MK_K8S_VERSION:-$(tr -d '[:space:]' <"$repo/test/k8s/VERSION")}
bash "$repo/test/k8s/build.sh" >&2
built=$(bash "$repo/test/k8s/node-image.sh" | sed -n '$p')
[[ -n $built ]] || { echo "test/k8s/node-image.sh printed no tag" >&2; exit 1; }
docker tag "$built" "mk.local/node:$version"
echo "mk.local/node:$version"

#!/usr/bin/env bash
# Tier 3: a Kubernetes node image for mk's tests, without any registry.
#
#   test/k8s/node-image.sh        build (or reuse) mk.test/k8s-node:<version>-<hash>; prints the tag last
#
# Needs: test/k8s/build.sh done, Docker, gcc + libc6-dev (pause), apt (containerd/runc/CNI .debs).
# Builds into $MK_K8S_CACHE/<version>/: extra/pause, extra/coredns (from the Go proxy), debs/.
# The image = scripts/build-node-image.sh's systemd base + containerd 1.6 + runc + CNI plugins +
# kubelet/kubeadm/kubectl + the control-plane images (named exactly as `kubeadm config images list`
# prints them) already in containerd's store under /var/lib/containerd, unpacked, as kind's node
# images carry them: a node's /var volume starts as a copy of it, so a node boots with its images
# (no import at boot). The layer blobs are dropped once unpacked (the snapshots are what runs).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF=$here/$(basename "${BASH_SOURCE[0]}")
repo=$(cd "$here/../.." && pwd)
K8S_VERSION=${MK_K8S_VERSION:-$(tr -d '[:space:]' <"$here/VERSION")}
CACHE_ROOT=${MK_K8S_CACHE:-$HOME/.cache/mk/k8s}
VDIR=$CACHE_ROOT/$K8S_VERSION
BIN=$VDIR/bin
EXTRA=$VDIR/extra
REPO_NAME=${MK_K8S_NODE_IMAGE:-mk.test/k8s-node}

log() { printf '[k8s-node-image %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
T0=$(date +%s)

[[ -f $BIN/.complete ]] || { echo "run test/k8s/build.sh first ($BIN incomplete)" >&2; exit 1; }
mkdir -p "$EXTRA" "$VDIR/debs"
exec 9>"$VDIR/.node-image.lock"
flock 9

export GOMODCACHE=$VDIR/gomod GOCACHE=$VDIR/gocache CGO_ENABLED=0 GOTOOLCHAIN=${GOTOOLCHAIN:-local}
export GOFLAGS="${GOFLAGS:-} -modcacherw -buildvcs=false"
KMOD=$GOMODCACHE/k8s.io/kubernetes@$K8S_VERSION
consts=$KMOD/cmd/kubeadm/app/constants/constants.go
const() { sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p" "$consts"; }
PAUSE_TAG=$(const PauseVersion)
COREDNS_TAG=$(const CoreDNSVersion)
ETCD_TAG=$(const DefaultEtcdVersion)
[[ -n $PAUSE_TAG && -n $COREDNS_TAG && -n $ETCD_TAG ]] || { echo "cannot read image versions from $consts" >&2; exit 1; }
# Cross-check with kubeadm itself.
listed=$("$BIN/kubeadm" config images list --kubernetes-version "$K8S_VERSION" 2>/dev/null)
for img in "registry.k8s.io/pause:$PAUSE_TAG" "registry.k8s.io/coredns/coredns:$COREDNS_TAG" "registry.k8s.io/etcd:$ETCD_TAG"; do
  grep -qx "$img" <<<"$listed" || { printf 'kubeadm does not list %s:\n%s\n' "$img" "$listed" >&2; exit 1; }
done

# --- pause (C, static) and CoreDNS (Go proxy) ---------------------------------------------------
if [[ ! -x $EXTRA/pause ]]; then
  log "pause $PAUSE_TAG (gcc -static)"
  gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_TAG-mk" -o "$EXTRA/pause.tmp" "$KMOD/build/pause/linux/pause.c"
  mv "$EXTRA/pause.tmp" "$EXTRA/pause"
fi
if [[ ! -x $EXTRA/coredns ]]; then
  log "coredns $COREDNS_TAG (go build)"
  t=$(date +%s)
  src=$VDIR/src-coredns
  rm -rf "$src" && mkdir -p "$src" && cd "$src"
  go mod init mk.local/corednsbuild >/dev/null 2>&1
  go get -tool "github.com/coredns/coredns@$COREDNS_TAG"
  go build -trimpath -ldflags "-s -w" -o "$EXTRA/coredns.tmp" github.com/coredns/coredns
  mv "$EXTRA/coredns.tmp" "$EXTRA/coredns"
  log "coredns built in $(($(date +%s) - t))s"
fi

# --- Debian packages for the node ---------------------------------------------------------------
cd "$VDIR/debs"
for p in containerd runc containernetworking-plugins; do
  compgen -G "${p}_*.deb" >/dev/null || apt-get download "$p" >/dev/null
done

# --- the base image (systemd) from the project's own script ------------------------------------
BASE=$("$repo/scripts/build-node-image.sh" --print-tag)
docker image inspect "$BASE" >/dev/null 2>&1 || "$repo/scripts/build-node-image.sh" >&2

# Content hash: inputs of every image below.
HASH=$( {
  cat "$SELF" "$here"/node/*
  echo "$BASE"
  sha256sum "$BIN"/* "$EXTRA"/pause "$EXTRA"/coredns "$VDIR"/debs/*.deb | awk '{print $1}'
} | sha256sum | cut -c1-12)
TAG=$REPO_NAME:$K8S_VERSION-$HASH
if docker image inspect "$TAG" >/dev/null 2>&1; then
  log "image $TAG present ($(($(date +%s) - T0))s)"
  echo "$TAG"
  exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mk-k8s-node.XXXXXX")
BUILDER=""
cleanup() {
  [[ -n $BUILDER ]] && docker rm -f "$BUILDER" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- control-plane images: a binary in an empty rootfs, via docker import ------------------------
import_binary() { # <image> <binary path> <name in image> [extra docker import -c ...]
  local image=$1 bin=$2 name=$3
  shift 3
  local root=$WORK/img-$name
  mkdir -p "$root/usr/local/bin" "$root/tmp" "$root/etc"
  cp "$bin" "$root/usr/local/bin/$name"
  echo 'root:x:0:0:root:/root:/sbin/nologin' >"$root/etc/passwd"
  echo 'hosts: files dns' >"$root/etc/nsswitch.conf"
  tar --numeric-owner -C "$root" -c . | docker import \
    -c 'ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c "ENTRYPOINT [\"/usr/local/bin/$name\"]" "$@" - "$image" >/dev/null
}
IMAGES=()
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  import_binary "registry.k8s.io/$c:$K8S_VERSION" "$BIN/$c" "$c"
  IMAGES+=("registry.k8s.io/$c:$K8S_VERSION")
done
import_binary "registry.k8s.io/etcd:$ETCD_TAG" "$BIN/etcd" etcd
import_binary "registry.k8s.io/coredns/coredns:$COREDNS_TAG" "$EXTRA/coredns" coredns
# pause: kubelet/containerd run it as the sandbox; kubeadm's static pods expect /pause.
root=$WORK/img-pause
mkdir -p "$root"
cp "$EXTRA/pause" "$root/pause"
tar --numeric-owner -C "$root" -c . | docker import -c 'ENTRYPOINT ["/pause"]' -c 'USER 65535:65535' - "registry.k8s.io/pause:$PAUSE_TAG" >/dev/null
IMAGES+=("registry.k8s.io/etcd:$ETCD_TAG" "registry.k8s.io/coredns/coredns:$COREDNS_TAG" "registry.k8s.io/pause:$PAUSE_TAG")
# kube-proxy execs iptables/ip6tables/conntrack: the Debian node base has them.
BUILDER=$(docker create --entrypoint /bin/true "$BASE")
docker cp "$BIN/kube-proxy" "$BUILDER:/usr/local/bin/kube-proxy"
docker commit -c 'ENTRYPOINT ["/usr/local/bin/kube-proxy"]' "$BUILDER" "registry.k8s.io/kube-proxy:$K8S_VERSION" >/dev/null
docker rm -f "$BUILDER" >/dev/null
BUILDER=""
IMAGES+=("registry.k8s.io/kube-proxy:$K8S_VERSION")
log "saving ${#IMAGES[@]} images"
docker save -o "$WORK/images.tar" "${IMAGES[@]}"
# They live on in the node image; do not leave registry.k8s.io/* tags in the host's Docker.
docker rmi "${IMAGES[@]}" >/dev/null

# --- the node image ---------------------------------------------------------------------------
log "node image from $BASE"
BUILDER=$(docker run -d --entrypoint sleep "$BASE" infinity)
docker exec "$BUILDER" mkdir -p /mk/debs /etc/containerd /etc/cni/net.d /var/lib/kubelet /etc/kubernetes/manifests /etc/systemd/system/kubelet.service.d
for f in "$VDIR"/debs/*.deb; do docker cp "$f" "$BUILDER:/mk/debs/"; done
docker exec -e DEBIAN_FRONTEND=noninteractive "$BUILDER" sh -c 'dpkg -i /mk/debs/*.deb && rm -rf /mk/debs' >"$WORK/dpkg.log" 2>&1 || {
  tail -n 30 "$WORK/dpkg.log" >&2
  exit 1
}
for b in kubelet kubeadm kubectl; do docker cp "$BIN/$b" "$BUILDER:/usr/bin/$b"; done
sed "s|PAUSE_IMAGE|registry.k8s.io/pause:$PAUSE_TAG|" "$here/node/containerd-config.toml" >"$WORK/config.toml"
docker cp "$WORK/config.toml" "$BUILDER:/etc/containerd/config.toml"
docker cp "$here/node/kubelet.service" "$BUILDER:/etc/systemd/system/kubelet.service"
docker cp "$here/node/10-kubeadm.conf" "$BUILDER:/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"
docker cp "$here/node/entrypoint.sh" "$BUILDER:/usr/local/bin/mk-node-entrypoint"
docker exec "$BUILDER" sh -c '
  chmod 0755 /usr/local/bin/mk-node-entrypoint
  mkdir -p /etc/systemd/system/multi-user.target.wants
  for u in kubelet containerd; do
    f=/etc/systemd/system/$u.service; [ -f "$f" ] || f=/lib/systemd/system/$u.service
    ln -sf "$f" /etc/systemd/system/multi-user.target.wants/$u.service
  done
  rm -f /etc/cni/net.d/*'
docker stop -t 1 "$BUILDER" >/dev/null
STAGE=$TAG-stage
docker commit "$BUILDER" "$STAGE" >/dev/null
docker rm -f "$BUILDER" >/dev/null
BUILDER=""

# --- the images, in containerd's store ------------------------------------------------------------
# containerd's overlayfs snapshotter needs a file system that is not overlayfs: a volume, as on a node.
log "importing ${#IMAGES[@]} images into containerd's store"
STORE=mk-k8s-node-store-$$
docker volume create "$STORE" >/dev/null
PRELOADER=$(docker run -d --cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
  --tmpfs /run --tmpfs /tmp -v "$STORE:/var/lib/containerd" --entrypoint sleep "$STAGE" infinity)
cleanup_store() { docker rm -f "$PRELOADER" >/dev/null 2>&1; docker volume rm "$STORE" >/dev/null 2>&1; docker rmi "$STAGE" >/dev/null 2>&1; }
trap 'cleanup; cleanup_store' EXIT
docker exec -d "$PRELOADER" containerd
for ((i = 0; i < 100; i++)); do docker exec "$PRELOADER" test -S /run/containerd/containerd.sock && break; sleep 0.2; done
docker exec -i "$PRELOADER" ctr -n k8s.io images import --all-platforms - <"$WORK/images.tar" >"$WORK/import.log" 2>&1 || { tail -n 20 "$WORK/import.log" >&2; exit 1; }
# The layer blobs (every blob over 1 MB) once unpacked: the snapshots run; manifests and configs stay.
docker exec "$PRELOADER" sh -c 'ctr -n k8s.io content ls | awk '"'"'NR > 1 && $2 ~ /[MG]B$/ { print $1 }'"'"' | xargs -r ctr -n k8s.io content rm' >/dev/null
listed=$(docker exec "$PRELOADER" ctr -n k8s.io images ls -q | grep -c '^registry.k8s.io/' || true)
[[ $listed == "${#IMAGES[@]}" ]] || { echo "containerd lists $listed of ${#IMAGES[@]} images after the import" >&2; exit 1; }
docker exec "$PRELOADER" pkill -TERM -x containerd
for ((i = 0; i < 50; i++)); do docker exec "$PRELOADER" pgrep -x containerd >/dev/null || break; sleep 0.2; done
BUILDER=$(docker create --entrypoint /bin/true "$STAGE")
docker exec "$PRELOADER" tar -C /var/lib -cf - containerd | docker cp - "$BUILDER:/var/lib/"
docker commit \
  -c 'ENTRYPOINT ["/usr/local/bin/mk-node-entrypoint"]' -c 'CMD []' -c 'ENV container=docker' \
  -m "mk k8s test node $K8S_VERSION" "$BUILDER" "$TAG" >/dev/null
# Older builds of this version's node image are superseded.
docker images --filter "reference=$REPO_NAME" --format '{{.Repository}}:{{.Tag}}' |
  grep -F "$REPO_NAME:$K8S_VERSION-" | grep -vxF "$TAG" | xargs -r docker rmi >/dev/null 2>&1 || true
log "built $TAG in $(($(date +%s) - T0))s ($(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
echo "$TAG"

#!/usr/bin/env bash
# Build the Kubernetes binaries mk's e2e tests run (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubeadm, kubelet, kubectl, kube-proxy) plus etcd, from the Go module proxy.
#
#   test/k8s/build.sh            build (or verify the cached build) for the version in test/k8s/VERSION
#   MK_K8S_VERSION=v1.36.3 ...   override the version
#   MK_K8S_CACHE=/some/dir ...   cache root (default: $HOME/.cache/mk/k8s)
#
# Everything lives under $MK_K8S_CACHE/<version>/: bin/ (the binaries), gomod/ (GOMODCACHE),
# gocache/ (GOCACHE), src-k8s/ and src-etcd/ (throwaway wrapper modules). Nothing is written
# into the repository. A second run only checks the binaries and prints their versions.
# Idempotent; concurrent runs for the same version serialise on a lock file.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
K8S_VERSION=${MK_K8S_VERSION:-$(tr -d '[:space:]' <"$here/VERSION")}
CACHE_ROOT=${MK_K8S_CACHE:-$HOME/.cache/mk/k8s}
VDIR=$CACHE_ROOT/$K8S_VERSION
BIN=$VDIR/bin
KUBE_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubeadm kubelet kubectl kube-proxy)
ALL_BINS=("${KUBE_CMDS[@]}" etcd)

if [[ ! $K8S_VERSION =~ ^v1\.([0-9]+)\.([0-9]+)$ ]]; then
  echo "build.sh: version '$K8S_VERSION' is not of the form v1.N.M" >&2
  exit 2
fi
K8S_MINOR=${BASH_REMATCH[1]}
STAGING_VERSION=v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}

log() { printf '[k8s-build %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
now() { date +%s; }
T0=$(now)
declare -a TIMINGS=()
fresh_module() { rm -rf "$1" && mkdir -p "$1" && cd "$1" && go mod init "$2" >/dev/null 2>&1; } # <dir> <module>: a new throwaway wrapper module, entered
step_done() { TIMINGS+=("$1: $(($(now) - $2))s"); }

mkdir -p "$VDIR"
exec 9>"$VDIR/.lock"
if ! flock -n 9; then
  log "another build of $K8S_VERSION holds $VDIR/.lock; waiting"
  flock 9
fi

print_versions() {
  "$BIN/kubeadm" version -o short
  "$BIN/kubelet" --version
  "$BIN/kubectl" version --client | sed -n 1p  # reads everything: head would SIGPIPE the writer under pipefail
  "$BIN/kube-apiserver" --version
  "$BIN/etcd" --version | sed -n 1p
}

verify() {
  local b got
  for b in "${ALL_BINS[@]}"; do
    [[ -x $BIN/$b ]] || return 1
  done
  got=$("$BIN/kubeadm" version -o short) || return 1
  [[ $got == "$K8S_VERSION" ]] || { log "kubeadm reports '$got', want '$K8S_VERSION'"; return 1; }
  got=$("$BIN/kubelet" --version) || return 1
  [[ $got == "Kubernetes $K8S_VERSION" ]] || { log "kubelet reports '$got'"; return 1; }
  return 0
}

if [[ -f $BIN/.complete ]] && verify; then
  log "cached binaries for $K8S_VERSION in $BIN ($(($(now) - T0))s):"
  print_versions
  exit 0
fi

export GOMODCACHE=$VDIR/gomod
export GOCACHE=$VDIR/gocache
export GOFLAGS="${GOFLAGS:-} -modcacherw -buildvcs=false"
export CGO_ENABLED=0
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
# sum.golang.org is not reachable here; the proxy serves the checksum database itself.
export GOPROXY=${GOPROXY:-https://proxy.golang.org}

log "building Kubernetes $K8S_VERSION (staging $STAGING_VERSION) with $(go version) into $BIN"
rm -f "$BIN/.complete"
OUT=$VDIR/out.tmp
rm -rf "$OUT"
mkdir -p "$OUT" "$BIN"

# --- k8s wrapper module ----------------------------------------------------------------------
t=$(now)
SRC=$VDIR/src-k8s
fresh_module "$SRC" mk.local/k8sbuild
kmod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
[[ -f $kmod ]] || { log "no go.mod for k8s.io/kubernetes@$K8S_VERSION"; exit 1; }

# The staging modules: every "k8s.io/X => ./staging/src/k8s.io/X" replace in k8s.io/kubernetes' go.mod.
mapfile -t STAGING < <(awk '$2 == "=>" && $3 ~ /^\.\/staging\/src\// { print $1 }' "$kmod" | sort -u)
(( ${#STAGING[@]} > 20 )) || { log "found only ${#STAGING[@]} staging modules in $kmod"; exit 1; }
log "${#STAGING[@]} staging modules: ${STAGING[*]}"

edits=(-require="k8s.io/kubernetes@$K8S_VERSION")
for m in "${STAGING[@]}"; do
  edits+=(-replace="$m=$m@$STAGING_VERSION")
done
# Same go line, and the godebug settings, which only apply in the main module.
gov=$(awk '$1 == "go" { print $2; exit }' "$kmod")
edits+=(-go="$gov")
while read -r gd; do
  [[ -n $gd ]] && edits+=(-godebug="$gd")
done < <(awk '
  $1 == "godebug" && $2 == "(" { inblock = 1; next }
  inblock && $1 == ")" { inblock = 0; next }
  inblock && $1 ~ /=/ { print $1; next }
  $1 == "godebug" && $2 ~ /=/ { print $2 }' "$kmod")
go mod edit "${edits[@]}"

pkgs=()
for c in "${KUBE_CMDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
tools=()
for p in "${pkgs[@]}"; do tools+=("$p@$K8S_VERSION"); done
go get -tool "${tools[@]}"
step_done "k8s module resolve+download" "$t"

# Version stamping as in hack/lib/version.sh, on both version packages.
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ldf="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldf+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$K8S_MINOR"
  ldf+=" -X $pkg.gitCommit=$K8S_VERSION -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

t=$(now)
log "go build ${KUBE_CMDS[*]}"
go build -trimpath -ldflags "$ldf" -o "$OUT/" "${pkgs[@]}"
step_done "k8s go build (7 binaries)" "$t"

# --- etcd wrapper module ---------------------------------------------------------------------
# The version kubeadm deploys (constants.DefaultEtcdVersion, e.g. "3.6.5-0" -> v3.6.5).
consts=$GOMODCACHE/k8s.io/kubernetes@$K8S_VERSION/cmd/kubeadm/app/constants/constants.go
etcd_tag=$(sed -n 's/^[[:space:]]*DefaultEtcdVersion[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$consts")
[[ -n $etcd_tag ]] || { log "DefaultEtcdVersion not found in $consts"; exit 1; }
ETCD_VERSION=v${etcd_tag%-*}
t=$(now)
ESRC=$VDIR/src-etcd
fresh_module "$ESRC" mk.local/etcdbuild
log "etcd $ETCD_VERSION (kubeadm's DefaultEtcdVersion $etcd_tag)"
go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3
step_done "etcd resolve+build" "$t"

# --- install atomically ----------------------------------------------------------------------
for b in "${ALL_BINS[@]}"; do
  mv -f "$OUT/$b" "$BIN/$b"
done
rmdir "$OUT"
printf 'kubernetes=%s\netcd=%s\ngo=%s\nbuilt=%s\n' "$K8S_VERSION" "$ETCD_VERSION" "$(go env GOVERSION)" "$build_date" >"$BIN/versions.env"
verify || { log "built binaries do not report $K8S_VERSION"; exit 1; }
touch "$BIN/.complete"

log "done in $(($(now) - T0))s"
for x in "${TIMINGS[@]}"; do log "  $x"; done
log "cache sizes: $(du -sh "$GOMODCACHE" "$GOCACHE" "$BIN" 2>/dev/null | awk '{printf "%s %s  ", $2, $1}')"
print_versions

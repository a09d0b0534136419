# Sourced by scripts/conformance-build.sh and its parts: paths, logging and the Go environment.
# Everything lives under $CONF_DIR = ${MK_CACHE:-~/.cache/mk}/conformance/<version>/.

CONF_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
K8S_VERSION=${MK_K8S_VERSION:-$(tr -d '[:space:]' <"$CONF_REPO_ROOT/test/k8s/VERSION")}
if [[ ! $K8S_VERSION =~ ^v1\.([0-9]+)\.([0-9]+)$ ]]; then
  echo "conformance: version '$K8S_VERSION' is not of the form v1.N.M" >&2
  exit 2
fi
K8S_MINOR=${BASH_REMATCH[1]}
STAGING_VERSION=v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}
CONF_DIR=${MK_CACHE:-$HOME/.cache/mk}/conformance/$K8S_VERSION
CONF_BIN=$CONF_DIR/bin
# The Go caches of test/k8s/build.sh for the same version: e2e.test shares nearly all its modules
# and packages with the Kubernetes binaries, so nothing is downloaded or compiled twice.
K8S_VDIR=${MK_K8S_CACHE:-$HOME/.cache/mk/k8s}/$K8S_VERSION

clog() { printf '[conformance-build %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
cdie() { clog "$*"; exit 1; }

conf_go_env() {
  export GOMODCACHE=$K8S_VDIR/gomod GOCACHE=$K8S_VDIR/gocache
  export GOFLAGS="${GOFLAGS:-} -modcacherw -buildvcs=false"
  export CGO_ENABLED=0 GOTOOLCHAIN=${GOTOOLCHAIN:-local}
  export GOPROXY=${GOPROXY:-https://proxy.golang.org}
}

# Where the images the framework pins at older releases are built from (see go.sh).
AGNHOST_PREV_FROM=v1.34.0
SAMPLE_APISERVER_FROM=v0.29.2

# The go.mod of k8s.io/kubernetes at VERSION (default K8S_VERSION; downloaded into GOMODCACHE if needed).
k8s_gomod() {
  go mod download -json "k8s.io/kubernetes@${1:-$K8S_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p'
}

# The source tree of k8s.io/kubernetes at K8S_VERSION in GOMODCACHE.
k8s_src() { echo "$GOMODCACHE/k8s.io/kubernetes@$K8S_VERSION"; }

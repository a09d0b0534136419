#!/usr/bin/env bash
# Build what Kubernetes conformance needs on an mk cluster, for the version in test/k8s/VERSION.
#
#   scripts/conformance-build.sh [go|images|all]   (default: all)
#
# go:     e2e.test (`go test -c k8s.io/kubernetes/test/e2e`), ginkgo (the version k8s.io/kubernetes
#         requires) and agnhost, from a wrapper module; GOMODCACHE/GOCACHE are test/k8s/build.sh's.
# images: the e2e test images the framework names (test/utils/image/manifest.go), built here.
#
# Cache: ${MK_CACHE:-~/.cache/mk}/conformance/<version>/ (bin/, src/, images/). Idempotent: a second
# run only checks. Concurrent runs for the same version serialise on a lock file.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=conformance/lib.sh
source "$here/conformance/lib.sh"
# shellcheck source=conformance/go.sh
source "$here/conformance/go.sh"

what=${1:-all}
case $what in go | images | all) ;; -h | --help) sed -n '2,12p' "$0"; exit 0 ;; *) cdie "unknown step '$what'" ;; esac
command -v go >/dev/null || cdie "go is missing (scripts/install-deps.sh)"

mkdir -p "$CONF_DIR"
exec 9>"$CONF_DIR/.lock"
flock -n 9 || { clog "another build of $K8S_VERSION holds $CONF_DIR/.lock; waiting"; flock 9; }

T0=$SECONDS
declare -a TIMINGS=()
[[ $what == images ]] || build_go
if [[ $what != go ]]; then
  # shellcheck source=conformance/images.sh
  source "$here/conformance/images.sh"
  build_images
fi
clog "done in $((SECONDS - T0))s"
for x in "${TIMINGS[@]}"; do clog "  $x"; done

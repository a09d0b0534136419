#!/usr/bin/env bash
# CI's conformance step (npm run conformance:ci [OUT_DIR]): Kubernetes' conformance suite on three mk
# clusters at once, each 1 control plane + 2 workers, after one build of the binaries and images:
#   parallel     the non-[Serial] specs, Docker nodes, $CONFORMANCE_PROCS ginkgo processes (default 8:
#                the specs mostly wait, 2 processes took 52 min here and 8 about 15)
#   serial       the [Serial] specs, Docker nodes, one process, on a cluster of their own
#   ssh-network  the [sig-network] specs (Services, DNS, HostPort, EndpointSlices...) on a cluster of
#                ssh hosts (containers of test/k8s/ssh-host-image.sh)
# Each run's report goes to OUT_DIR/<run>/ (summary.md/json, junit.xml, ginkgo.log) and its output to
# OUT_DIR/<run>.log. Exit 1 when any run had a failed or unrun spec.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-.ci-results/conformance}")
procs=${CONFORMANCE_PROCS:-8}
mkdir -p "$out"
log() { printf '[conformance-ci %s] %s\n' "$(date +%T)" "$*" >&2; }

# One build for all three (they run with --no-build, so none rebuilds dist/ under another's mk).
npm run conformance:build
node scripts/build.mjs
bash test/k8s/node-image.sh >/dev/null
bash test/k8s/ssh-host-image.sh >/dev/null

# Admin kubeconfigs stay out of the report directory (CI keeps it).
creds=$(mktemp -d)
trap 'rm -rf "$creds"' EXIT

declare -A pids
start() {
  local run=$1
  shift
  log "$run: npm run conformance -- $*"
  KUBECONFIG="$creds/$run" npm run --silent conformance -- --no-build --report-dir "$out/$run" "$@" >"$out/$run.log" 2>&1 &
  pids[$run]=$!
}
start parallel --name cf-ci-par --procs "$procs"
start serial --name cf-ci-ser --serial
start ssh-network --name cf-ci-ssh --driver ssh --procs 4 --focus '\[sig-network\]'

status=0
for run in parallel serial ssh-network; do
  code=0
  wait "${pids[$run]}" || code=$?
  if [ "$code" -eq 0 ]; then
    log "$run: passed"
  else
    status=1
    log "$run: FAILED (exit $code); the end of $out/$run.log:"
    tail -n 40 "$out/$run.log" >&2
  fi
done
# Each run's counts and failures (the skip lists are in the files).
for run in parallel serial ssh-network; do
  if [ -f "$out/$run/summary.md" ]; then sed '/^## Skipped\|^## Framework/,$d' "$out/$run/summary.md"; fi
done
exit "$status"

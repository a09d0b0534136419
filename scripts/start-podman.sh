#!/usr/bin/env bash
# Starts podman's Docker-compatible API service in the background when none answers (no systemd
# here), then waits for it. mk's podman driver talks to it at unix:///run/podman/podman.sock.
#
# Where the service lacks CAP_SYS_RESOURCE (this project's CI sandbox), every container start fails
# with "error setting rlimit type N" while podman's default ulimits (nofile 1048576) exceed the
# service's own: the service gets a containers.conf whose default_ulimits are its own hard limits,
# read from /proc once it runs (podman sets its own nproc at start: 32768 here, not the shell's).
set -euo pipefail
# The service (and every conmon it starts) keeps the directory it started in: make it one that stays
# (a checkout removed later leaves conmon failing "Failed to get working directory").
cd /
sock=${MK_PODMAN_SOCKET:-/run/podman/podman.sock}
conf=${MK_PODMAN_CONF:-/etc/mk/podman-containers.conf}
log=/tmp/mk-podman.log
ping() { curl -sf --max-time 2 --unix-socket "$sock" http://podman/_ping >/dev/null 2>&1; }
if ping; then echo "podman service already running at unix://$sock"; exit 0; fi
mkdir -p "$(dirname "$sock")" "$(dirname "$conf")"

write_conf() { # nofile nproc
  printf '# Written by scripts/start-podman.sh: container limits within the service'"'"'s own.\n[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n' "$1" "$1" "$2" "$2" >"$conf"
}
start() {
  rm -f "$sock"
  # Its own session: the service outlives whatever started it.
  CONTAINERS_CONF="$conf" setsid nohup podman system service --time=0 "unix://$sock" >"$log" 2>&1 </dev/null &
  pid=$!
  for _ in $(seq 1 60); do
    if ping; then return 0; fi
    sleep 0.5
  done
  echo "the podman service did not become ready; its log:" >&2
  tail -50 "$log" >&2
  exit 1
}
hard() { awk -v k="$1" 'index($0, k) == 1 { print ($(NF-1) == "unlimited" ? 1048576 : $(NF-1)) }' "/proc/$pid/limits"; }

[ -f "$conf" ] || write_conf "$(ulimit -Hn)" "$(ulimit -Hu)"
start
nofile=$(hard 'Max open files'); nproc=$(hard 'Max processes')
if ! grep -q "\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"" "$conf"; then
  write_conf "$nofile" "$nproc"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  start
fi
echo "podman service ready at unix://$sock (container limits: nofile $nofile, nproc $nproc)"

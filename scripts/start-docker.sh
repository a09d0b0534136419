#!/usr/bin/env bash
# Starts dockerd in the background when no engine answers (no systemd here), then waits for it.
set -euo pipefail
if docker info >/dev/null 2>&1; then echo "docker engine already running"; exit 0; fi
if [ ! -d /sys/fs/cgroup/memory ] && command -v cgroupfs-mount >/dev/null; then cgroupfs-mount || true; fi
# A dockerd killed with the previous session leaves its pid file; clear it when that pid is gone.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then rm -f /var/run/docker.pid; fi
nohup dockerd >/tmp/mk-dockerd.log 2>&1 &
for _ in $(seq 1 120); do
  if docker info >/dev/null 2>&1; then echo "docker engine ready"; exit 0; fi
  sleep 0.5
done
echo "dockerd did not become ready; its log:" >&2
tail -50 /tmp/mk-dockerd.log >&2
exit 1

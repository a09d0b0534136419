#!/usr/bin/env bash
# Starts dockerd in the background when no engine answers (no systemd here), then waits for it.
set -euo pipefail
if docker info >/dev/null 2>&1; then echo "docker engine already running"; exit 0; fi
if [ ! -d /sys/fs/cgroup/memory ] && command -v cgroupfs-mount >/dev/null; then cgroupfs-mount || true; fi
# A dockerd (and its containerd) killed with the previous session leave pid files behind, and
# maybe zombies, which `kill -0` still sees; dockerd then refuses to start or waits for a
# containerd that is gone. Clear each pid file unless its pid is a live process.
for pidfile in /var/run/docker.pid /var/run/docker/containerd/containerd.pid; do
  [ -f "$pidfile" ] || continue
  state=$(ps -o stat= -p "$(cat "$pidfile")" 2>/dev/null || true)
  if [ -z "$state" ] || [[ $state == Z* ]]; then rm -f "$pidfile"; fi
done
# Its own session: the engine outlives whatever started it (a test that restarts it, a shell job).
setsid nohup dockerd >/tmp/mk-dockerd.log 2>&1 < /dev/null &
for _ in $(seq 1 120); do
  if docker info >/dev/null 2>&1; then echo "docker engine ready"; exit 0; fi
  sleep 0.5
done
echo "dockerd did not become ready; its log:" >&2
tail -50 /tmp/mk-dockerd.log >&2
exit 1

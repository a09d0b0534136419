#!/usr/bin/env bash
# Tier 3: a two-node kubeadm cluster in Docker containers (no --privileged), from the image that
# test/k8s/node-image.sh builds.
#
#   test/k8s/cluster.sh up   <name> <image> <outdir>   init one control plane, join one worker;
#                                                      writes <outdir>/admin.conf (server = 127.0.0.1:<port>)
#   test/k8s/cluster.sh down <name>                    remove containers, volumes and network (by label)
#
# Everything is labelled mk.test/k8s-cluster=<name>. See K8S-FROM-SOURCE.md §5.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
K8S_VERSION=${MK_K8S_VERSION:-$(tr -d '[:space:]' <"$here/VERSION")}
LABEL=mk.test/k8s-cluster
log() { printf '[k8s-cluster %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
T0=$(date +%s)
since() { echo "$(($(date +%s) - T0))s"; }

down() {
  local name=$1
  docker ps -aq --filter "label=$LABEL=$name" | xargs -r docker rm -f -v >/dev/null
  docker volume ls -q --filter "label=$LABEL=$name" | xargs -r docker volume rm >/dev/null
  docker network ls -q --filter "label=$LABEL=$name" | xargs -r docker network rm >/dev/null
  log "removed cluster $name"
}

run_node() { # <cluster> <node> <image> [docker run args...]
  local cluster=$1 node=$2 image=$3
  shift 3
  docker volume create --label "$LABEL=$cluster" "$node-var" >/dev/null
  docker run -d --name "$node" --hostname "$node" --network "mk-k8s-$cluster" \
    --label "$LABEL=$cluster" \
    --cap-add ALL --cap-drop SYS_RESOURCE \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --security-opt systempaths=unconfined \
    --cgroupns=private --init=false --stop-signal SIGRTMIN+3 -e container=docker \
    --tmpfs /run --tmpfs /run/lock --tmpfs /tmp \
    --device-cgroup-rule 'a *:* rwm' --device /dev/kmsg \
    -v "$node-var:/var" -v /lib/modules:/lib/modules:ro \
    --sysctl net.ipv4.ip_forward=1 \
    "$@" "$image" >/dev/null
}

wait_systemd() { # <node>
  local s="" i
  for ((i = 0; i < 120; i++)); do
    s=$(timeout 60 docker exec "$1" systemctl is-system-running --wait 2>/dev/null || true)
    [[ $s == running || $s == degraded ]] && break
    sleep 0.5
  done
  log "$1: systemd $s"
  if [[ $s == degraded ]]; then docker exec "$1" systemctl --failed --no-legend >&2 || true; fi
  [[ $s == running || $s == degraded ]] || { docker logs "$1" 2>&1 | tail -n 30 >&2; return 1; }
  # The control-plane images are in containerd's store from the node image; wait until it serves them.
  for ((i = 0; i < 240; i++)); do
    docker exec "$1" ctr -n k8s.io images ls -q 2>/dev/null | grep -q '^registry.k8s.io/kube-apiserver:' && return 0
    sleep 0.5
  done
  docker exec "$1" systemctl status containerd --no-pager >&2 || true
  return 1
}

run_kubeadm() { # <node> <init|join> <config> <log dir>: on failure, show kubeadm's and the kubelet's log tails
  if ! docker exec "$1" kubeadm "$2" --config "$3" -v=1 >"$4/kubeadm-$2.log" 2>&1; then
    tail -n 40 "$4/kubeadm-$2.log" >&2
    docker exec "$1" journalctl -u kubelet --no-pager -n 60 >"$4/kubelet-$1.log" 2>&1 || true
    tail -n 40 "$4/kubelet-$1.log" >&2
    return 1
  fi
}

node_ip() { docker inspect -f "{{(index .NetworkSettings.Networks \"mk-k8s-$2\").IPAddress}}" "$1"; }

cni_config() { # <node> <podCIDR>
  docker exec -i "$1" sh -c 'mkdir -p /etc/cni/net.d && cat >/etc/cni/net.d/10-mk.conflist' <<EOF
{
  "cniVersion": "0.4.0",
  "name": "mk",
  "plugins": [
    { "type": "ptp", "ipMasq": true, "mtu": 1500,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$2" }]], "routes": [{ "dst": "0.0.0.0/0" }] } },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
}

up() {
  local name=$1 image=$2 out=$3
  local cp="$name-control-plane" worker="$name-worker"
  mkdir -p "$out"
  down "$name" 2>/dev/null || true
  docker network create --label "$LABEL=$name" "mk-k8s-$name" >/dev/null
  run_node "$name" "$cp" "$image" -p 127.0.0.1::6443
  run_node "$name" "$worker" "$image"
  wait_systemd "$cp"
  wait_systemd "$worker"
  log "nodes booted ($(since))"
  # Pods cannot reach Docker's embedded DNS (127.0.0.11 in the node's netns), and CoreDNS forwarding to
  # a loopback address detects a loop and exits. Give the kubelet the host's non-loopback resolvers
  # (or the network gateway).
  local ns
  ns=$(awk '$1 == "nameserver" && $2 !~ /^127\./ && $2 != "::1" { print "nameserver " $2 }' /etc/resolv.conf)
  [[ -n $ns ]] || ns="nameserver $(docker network inspect -f '{{(index .IPAM.Config 0).Gateway}}' "mk-k8s-$name")"
  for n in "$cp" "$worker"; do
    printf '%s\n' "$ns" | docker exec -i "$n" sh -c 'mkdir -p /etc/mk && cat >/etc/mk/resolv.conf'
  done
  local cp_ip worker_ip token
  cp_ip=$(node_ip "$cp" "$name")
  worker_ip=$(node_ip "$worker" "$name")
  token="$(openssl rand -hex 3).$(openssl rand -hex 8)"

  docker exec -i "$cp" sh -c 'mkdir -p /kind && cat >/kind/kubeadm.yaml' <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
  - token: $token
    ttl: 1h0m0s
localAPIEndpoint:
  advertiseAddress: $cp_ip
  bindPort: 6443
nodeRegistration:
  name: $cp
  criSocket: unix:///run/containerd/containerd.sock
  imagePullPolicy: Never
  kubeletExtraArgs:
    - name: node-ip
      value: $cp_ip
skipPhases:
  - preflight
timeouts:
  controlPlaneComponentHealthCheck: 5m0s
  kubeletHealthCheck: 5m0s
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
clusterName: $name
kubernetesVersion: $K8S_VERSION
controlPlaneEndpoint: $cp_ip:6443
networking:
  podSubnet: 10.244.0.0/16
  serviceSubnet: 10.96.0.0/16
apiServer:
  certSANs: [localhost, 127.0.0.1]
etcd:
  local:
    extraArgs:
      - name: unsafe-no-fsync
        value: "true"
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupRoot: /kubelet
failCgroupV1: false
failSwapOn: false
resolvConf: /etc/mk/resolv.conf
imageGCHighThresholdPercent: 100
evictionHard:
  nodefs.available: "0%"
  nodefs.inodesFree: "0%"
  imagefs.available: "0%"
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
conntrack:
  maxPerCore: 0
EOF
  log "kubeadm init on $cp ($cp_ip)"
  run_kubeadm "$cp" init /kind/kubeadm.yaml "$out" || return 1
  log "kubeadm init done ($(since))"
  local kc=(docker exec "$cp" kubectl --kubeconfig /etc/kubernetes/admin.conf)

  local hash
  hash=$(docker exec "$cp" cat /etc/kubernetes/pki/ca.crt | openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1)
  docker exec -i "$worker" sh -c 'mkdir -p /kind && cat >/kind/join.yaml' <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: $cp_ip:6443
    token: $token
    caCertHashes: ["sha256:$hash"]
nodeRegistration:
  name: $worker
  criSocket: unix:///run/containerd/containerd.sock
  imagePullPolicy: Never
  kubeletExtraArgs:
    - name: node-ip
      value: $worker_ip
skipPhases:
  - preflight
EOF
  log "kubeadm join on $worker ($worker_ip)"
  run_kubeadm "$worker" join /kind/join.yaml "$out" || return 1
  log "kubeadm join done ($(since))"

  # CNI (K8S-FROM-SOURCE.md §5.5): ptp + host-local on each node's podCIDR, routes to the peer's.
  local n cidr i
  declare -A cidrs=()
  for n in "$cp" "$worker"; do
    for ((i = 0; i < 120; i++)); do
      cidr=$("${kc[@]}" get node "$n" -o 'jsonpath={.spec.podCIDR}' 2>/dev/null || true)
      [[ -n $cidr ]] && break
      sleep 0.5
    done
    [[ -n $cidr ]] || { log "no podCIDR for $n"; return 1; }
    cidrs[$n]=$cidr
    cni_config "$n" "$cidr"
  done
  docker exec "$cp" ip route replace "${cidrs[$worker]}" via "$worker_ip"
  docker exec "$worker" ip route replace "${cidrs[$cp]}" via "$cp_ip"
  log "CNI written: $cp=${cidrs[$cp]} $worker=${cidrs[$worker]}"

  # Admin kubeconfig reachable from the host through the published port.
  local port
  port=$(docker port "$cp" 6443/tcp | sed -n 1p | sed 's/.*://')
  docker exec "$cp" cat /etc/kubernetes/admin.conf | sed "s#server: https://.*:6443#server: https://127.0.0.1:$port#" >"$out/admin.conf"
  chmod 600 "$out/admin.conf"
  log "cluster $name up in $(since); kubeconfig $out/admin.conf"
}

case "${1:-}" in
  up) up "${2:?name}" "${3:?image}" "${4:?outdir}" ;;
  down) down "${2:?name}" ;;
  *) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Build the images of mk's catalog addons without a registry: Go binaries from source through the
# Go module proxy, a minimal root filesystem (CA bundle from Debian's ca-certificates, /etc/passwd
# with root, nonroot 65532 and nobody 65534), `docker import`, tagged mk.local/addons/<name>:<version>.
#
#   scripts/addon-images.sh [build] [NAME...]   build, or load from the cache, every image (or NAME...)
#   scripts/addon-images.sh list                one line per image: name version tag stands-for state;
#                                               then the catalog images that cannot be built here, and why
#   scripts/addon-images.sh check [NAME...]     each image present (loaded from the cache if needed),
#                                               built by this recipe, entrypoint/user as upstream, starts
#
# Cache: ${MK_CACHE:-~/.cache/mk}/addon-images/<name>/<version>/ holds bin/ (the binaries), build.key
# (what they were built from), image.tar.zst (`docker save | zstd`), image.recipe and .complete;
# .go/ holds GOMODCACHE and GOCACHE (shared by all images), debs/ the Debian packages.
# Idempotent; concurrent runs serialise on a lock. Exits non-zero, naming each image that failed and why.
set -euo pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
CACHE=${MK_CACHE:-$HOME/.cache/mk}/addon-images
REPO=mk.local/addons
NAMES=(metrics-server metallb-controller metallb-speaker local-path-provisioner busybox snapshot-controller csi-snapshotter registry traefik)

# Catalog images that cannot be built on a machine whose only sources are the package registries.
UNBUILDABLE=(
  'docker.io/kubernetesui/dashboard|archived upstream; its web UI is an Angular build, and Headlamp (its successor) is refused by the proxy (403)'
  'docker.io/kubernetesui/metrics-scraper|part of the archived dashboard'
  'registry.k8s.io/sig-storage/hostpathplugin|github.com/kubernetes-csi/csi-driver-host-path: the proxy refuses it (403)'
  'registry.k8s.io/sig-storage/csi-provisioner|github.com/kubernetes-csi/external-provisioner: the proxy refuses it (403)'
  'registry.k8s.io/sig-storage/csi-attacher|github.com/kubernetes-csi/external-attacher: the proxy refuses it (403)'
  'registry.k8s.io/sig-storage/csi-resizer|github.com/kubernetes-csi/external-resizer: the proxy refuses it (403)'
  'registry.k8s.io/sig-storage/csi-node-driver-registrar|github.com/kubernetes-csi/node-driver-registrar: the proxy refuses it (403)'
  'registry.k8s.io/sig-storage/livenessprobe|github.com/kubernetes-csi/livenessprobe: the proxy refuses it (403)'
  'docker.io/istio/proxyv2|Envoy (C++, Bazel): no source on any registry reached here'
  'docker.io/istio/pilot|istiod alone builds from istio.io/istio, but is of no use without proxyv2'
)

log() { printf '[addon-images %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 1; }

# spec NAME: sets what one image is. VERSION is the image tag (the upstream image's own tag);
# SOURCE is MODULE@MODVERSION (Go) or deb:PACKAGE; BINS are "path-in-image=package" (Go packages
# relative to the module root); ENTRYPOINT/CMD are compact JSON as `docker inspect` prints them,
# USER_ID a uid (upstream's); CHECK is the argv (after the entrypoint) that must exit 0 and print
# CHECK_OUT; UPSTREAM is the image this one stands for.
spec() {
  VERSION='' SOURCE='' BINS=() LDFLAGS='' FIXUP='' ENTRYPOINT='' CMD='' USER_ID=0 ENVS=() EXTRA='' CHECK=() CHECK_OUT='' UPSTREAM=''
  case $1 in
    metrics-server)
      VERSION=v0.7.2 SOURCE=sigs.k8s.io/metrics-server@$VERSION BINS=(/metrics-server=./cmd/metrics-server)
      LDFLAGS="-X k8s.io/client-go/pkg/version.gitVersion=$VERSION"
      ENTRYPOINT='["/metrics-server"]' USER_ID=65534 CHECK=(--version) CHECK_OUT=$VERSION
      UPSTREAM=registry.k8s.io/metrics-server/metrics-server ;;
    metallb-controller | metallb-speaker)
      local c=${1#metallb-}
      # Only the binary: the upstream speaker image also carries the FRR-mode tools (cp-tool,
      # frr-metrics, frr-reloader.sh); mk runs MetalLB in native (L2) mode, which needs none of them.
      VERSION=v0.14.9 SOURCE=go.universe.tf/metallb@$VERSION BINS=("/$c=./$c")
      LDFLAGS='-X go.universe.tf/metallb/internal/version.gitBranch=mk'
      ENTRYPOINT="[\"/$c\"]" CHECK=(--help) CHECK_OUT='-log-level'
      UPSTREAM=quay.io/metallb/$c ;;
    local-path-provisioner)
      VERSION=v0.0.30 SOURCE=github.com/rancher/local-path-provisioner@$VERSION BINS=(/usr/bin/local-path-provisioner=.)
      LDFLAGS="-X main.VERSION=$VERSION"
      CMD='["local-path-provisioner"]' CHECK=(local-path-provisioner --version) CHECK_OUT=$VERSION
      UPSTREAM=docker.io/rancher/local-path-provisioner ;;
    busybox) # local-path-provisioner's helper pods run /bin/sh scripts in it
      VERSION=1.35.0 SOURCE=deb:busybox-static
      CMD='["sh"]' CHECK=(sh -c 'mkdir -p /tmp/a/b && rm -rf /tmp/a && echo ok') CHECK_OUT=ok
      UPSTREAM=docker.io/library/busybox ;;
    snapshot-controller | csi-snapshotter)
      VERSION=v8.2.0 SOURCE=github.com/kubernetes-csi/external-snapshotter/v8@$VERSION BINS=("/$1=./cmd/$1")
      LDFLAGS="-X main.version=$VERSION" FIXUP=snapshotter_client
      ENTRYPOINT="[\"/$1\"]" CHECK=(--version) CHECK_OUT=$VERSION
      UPSTREAM=registry.k8s.io/sig-storage/$1 ;;
    registry) # CNCF Distribution v3 (the 2.8 line has no go.mod: it cannot be built from the proxy)
      VERSION=3.1.2 SOURCE=github.com/distribution/distribution/v3@v3.1.2 BINS=(/bin/registry=./cmd/registry)
      local m=github.com/distribution/distribution/v3
      LDFLAGS="-X $m/version.version=v$VERSION -X $m/version.mainpkg=$m"
      ENTRYPOINT='["/bin/registry"]' CMD='["serve","/etc/distribution/config.yml"]' ENVS=(OTEL_TRACES_EXPORTER=none) EXTRA=registry_config
      CHECK=(--version) CHECK_OUT=v$VERSION
      UPSTREAM=docker.io/library/registry ;;
    traefik) # the ingress addon's controller (Ingress and Gateway API), in place of the retired ingress-nginx.
      # v3.6: in v3.7.x, eight of its modules (lego v5's DNS provider SDKs, containous/go-http-auth)
      # are refused by the proxy here.
      VERSION=v3.6.12 SOURCE=github.com/traefik/traefik/v3@v3.6.12 BINS=(/traefik=./cmd/traefik)
      LDFLAGS="-X github.com/traefik/traefik/v3/pkg/version.Version=$VERSION"
      ENTRYPOINT='["/traefik"]' CHECK=(version) CHECK_OUT=$VERSION
      UPSTREAM=docker.io/library/traefik ;;
    *) die "unknown image '$1' (one of: ${NAMES[*]})" ;;
  esac
  TAG=$REPO/$1:$VERSION
  VDIR=$CACHE/$1/$VERSION
}

# Fixups, run in the module's source: a module zip leaves out nested modules, which some go.mod
# files replace with their directory (=> ./client).
snapshotter_client() { # client/v8 is its own module on the proxy, tagged like the main one
  local m=github.com/kubernetes-csi/external-snapshotter/client/v8
  go mod edit -replace "$m=$m@${SOURCE#*@}"
  go mod download "$m@${SOURCE#*@}" && go get "$m@${SOURCE#*@}" # its go.sum lines
}

# The registry's configuration, as the upstream image's: filesystem storage in /var/lib/registry,
# port 5000, no auth. The catalog's env (REGISTRY_HTTP_ADDR, ...) overrides it.
registry_config() {
  mkdir -p "$1/etc/distribution" "$1/var/lib/registry"
  cat >"$1/etc/distribution/config.yml" <<'EOF'
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
EOF
}

go_env() {
  export GOMODCACHE=$CACHE/.go/mod GOCACHE=$CACHE/.go/cache
  export GOFLAGS="${GOFLAGS:-} -modcacherw -buildvcs=false"
  export CGO_ENABLED=0 GOTOOLCHAIN=${GOTOOLCHAIN:-local}
  export GOPROXY=${GOPROXY:-https://proxy.golang.org}
}

cached_deb() { compgen -G "$CACHE/debs/${1}_*.deb" | sort | tail -n 1 || true; }

# deb PACKAGE [VERSION-PREFIX]: path of the package's .deb in the cache (downloaded once).
deb() {
  local d=$CACHE/debs f
  mkdir -p "$d"
  f=$(cached_deb "$1")
  if [[ -z $f ]]; then
    local v
    v=$(apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Version: //p')
    [[ -n $v ]] || die "apt knows no package $1 (run apt-get update)"
    [[ -z ${2:-} || ${v#*:} == "$2"* ]] || die "apt offers $1 $v, this script pins $2"
    (cd "$d" && apt-get download "$1" >/dev/null 2>&1) || die "apt-get download $1 failed"
    f=$(cached_deb "$1")
  fi
  echo "$f"
}

build_key() { # what the binaries are made of; a change rebuilds them
  printf '%s\n' "$SOURCE" "${BINS[@]}" "$LDFLAGS" "$(go env GOVERSION 2>/dev/null || echo no-go)"
}

build_binaries() {
  local key
  key=$(build_key)
  [[ -f $VDIR/bin/.complete && $(cat "$VDIR/build.key" 2>/dev/null) == "$key" ]] && return 0
  rm -rf "$VDIR/bin" && mkdir -p "$VDIR/bin"
  if [[ $SOURCE == deb:* ]]; then
    local x=$VDIR/deb
    rm -rf "$x" && dpkg-deb -x "$(deb "${SOURCE#deb:}" "$VERSION")" "$x"
    cp "$x/bin/busybox" "$VDIR/bin/busybox" && rm -rf "$x"
  else
    local t=$SECONDS dir src b
    log "$NAME: go mod download $SOURCE"
    dir=$(go mod download -json "$SOURCE" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
    [[ -d $dir ]] || die "$NAME: the Go module proxy did not give $SOURCE"
    # Built in (a copy of) the module itself, so its go.mod rules: replaces, go line, godebug. A
    # module zip keeps only vendor/modules.txt of vendor/: without the folder, go uses the proxy.
    src=$VDIR/src && rm -rf "$src" && cp -r "$dir" "$src" && chmod -R u+w "$src" && rm -rf "$src/vendor"
    [[ -z $FIXUP ]] || (cd "$src" && "$FIXUP") || die "$NAME: $FIXUP failed"
    for b in "${BINS[@]}"; do
      log "$NAME: go build ${b#*=} -> ${b%%=*}"
      (cd "$src" && nice go build -trimpath -ldflags "-s -w $LDFLAGS" -o "$VDIR/bin/$(basename "${b%%=*}")" "${b#*=}") ||
        die "$NAME: go build of ${b#*=} in $SOURCE failed"
    done
    rm -rf "$src"
    log "$NAME: built in $((SECONDS - t))s"
    echo "$((SECONDS - t))" >"$VDIR/build.seconds"
  fi
  echo "$key" >"$VDIR/build.key"
  touch "$VDIR/bin/.complete"
}

# The image's inputs beyond the binaries: this script (rootfs layout, config) and the CA bundle.
recipe() { { cat "$SELF"; build_key; basename "$(cached_deb ca-certificates)"; } | sha256sum | cut -c1-16; }

make_rootfs() { # <dir>
  local root=$1 x b
  mkdir -p "$root/etc/ssl/certs" "$root/tmp" "$root/home/nonroot"
  chmod 1777 "$root/tmp"
  x=$(mktemp -d) && dpkg-deb -x "$(deb ca-certificates)" "$x"
  cat "$x"/usr/share/ca-certificates/mozilla/*.crt >"$root/etc/ssl/certs/ca-certificates.crt" && rm -rf "$x"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' \
    'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nonroot:x:65532:' 'nobody:x:65534:' >"$root/etc/group"
  echo 'hosts: files dns' >"$root/etc/nsswitch.conf"
  if [[ $SOURCE == deb:busybox-static ]]; then
    mkdir -p "$root/bin" && cp "$VDIR/bin/busybox" "$root/bin/busybox"
    # Every applet as a link, where busybox --install would put it (merged /usr: all in /bin).
    "$VDIR/bin/busybox" --list | while read -r a; do [[ $a == busybox ]] || ln -sf busybox "$root/bin/$a"; done
  else
    for b in "${BINS[@]}"; do
      mkdir -p "$root$(dirname "${b%%=*}")" && cp "$VDIR/bin/$(basename "${b%%=*}")" "$root${b%%=*}"
    done
  fi
  [[ -z $EXTRA ]] || "$EXTRA" "$root"
}

import_image() {
  local rec=$1 root changes=() e old
  old=$(docker image inspect -f '{{.Id}}' "$TAG" 2>/dev/null) || old=''
  root=$(mktemp -d "${TMPDIR:-/tmp}/mk-addon-image.XXXXXX")
  make_rootfs "$root"
  changes+=(-c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c "USER $USER_ID")
  for e in "${ENVS[@]}"; do changes+=(-c "ENV $e"); done
  [[ -z $ENTRYPOINT ]] || changes+=(-c "ENTRYPOINT $ENTRYPOINT")
  [[ -z $CMD ]] || changes+=(-c "CMD $CMD")
  changes+=(-c "LABEL org.opencontainers.image.version=$VERSION" -c "LABEL org.opencontainers.image.source=$SOURCE"
    -c "LABEL dev.mk.stands-for=$UPSTREAM" -c "LABEL dev.mk.recipe=$rec")
  # Sorted, fixed mtime and owners: the same binaries give the same layer digest.
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -c . | docker import "${changes[@]}" - "$TAG" >/dev/null
  rm -rf "$root"
  [[ -z $old ]] || docker rmi "$old" >/dev/null 2>&1 || true # the image this one replaces under the tag
  docker save "$TAG" | zstd -q -T0 -o "$VDIR/image.tar.zst.tmp" -f
  mv "$VDIR/image.tar.zst.tmp" "$VDIR/image.tar.zst"
  echo "$rec" >"$VDIR/image.recipe"
}

# start_check: the image starts offline as its user and its entrypoint answers.
start_check() {
  local out
  out=$(timeout 60 docker run --rm --network none "$TAG" "${CHECK[@]}" 2>&1) ||
    die "$NAME: '$TAG ${CHECK[*]}' failed: $(tail -n 5 <<<"$out")"
  grep -qF -- "$CHECK_OUT" <<<"$out" || die "$NAME: '$TAG ${CHECK[*]}' did not print '$CHECK_OUT': $(tail -n 5 <<<"$out")"
}

state() { # present | cached | missing | stale
  local rec=$1 got
  got=$(docker image inspect -f '{{index .Config.Labels "dev.mk.recipe"}}' "$TAG" 2>/dev/null) || got=''
  if [[ $got == "$rec" ]]; then echo present
  elif [[ -f $VDIR/.complete && $(cat "$VDIR/image.recipe" 2>/dev/null) == "$rec" ]]; then echo cached
  elif [[ -f $VDIR/.complete ]]; then echo stale
  else echo missing; fi
}

one() { # build|check NAME: runs in its own process so that set -e holds
  local mode=$1 t=$SECONDS rec st
  NAME=$2
  spec "$NAME"
  mkdir -p "$VDIR"
  go_env
  [[ $mode == check ]] || deb ca-certificates >/dev/null
  rec=$(recipe)
  st=$(state "$rec")
  case $st in
    present) ;;
    cached) zstd -dc "$VDIR/image.tar.zst" | docker load >/dev/null || die "$NAME: docker load of $VDIR/image.tar.zst failed" ;;
    *)
      [[ $mode == build ]] || die "$NAME: $TAG is $st; run scripts/addon-images.sh build $NAME"
      rm -f "$VDIR/.complete"
      build_binaries
      import_image "$rec"
      touch "$VDIR/.complete" ;;
  esac
  if [[ $mode == check || $st != present ]]; then
    local got want
    got=$(docker image inspect -f '{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Config.User}}' "$TAG")
    want="${ENTRYPOINT:-null} ${CMD:-null} $USER_ID"
    [[ $got == "$want" ]] || die "$NAME: $TAG has entrypoint, cmd, user '$got', want '$want'"
    start_check
  fi
  log "$(printf '%-24s %-8s %4ss  %s  %s' "$NAME" "$st" "$((SECONDS - t))" "$TAG" \
    "$(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.1f MB", $1/1e6}')")"
}

list() {
  local n u
  go_env
  for n in "${NAMES[@]}"; do
    spec "$n"
    printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$VERSION" "$TAG" "$UPSTREAM" "$(state "$(recipe)")"
  done
  for u in "${UNBUILDABLE[@]}"; do printf '%s\t%s\t%s\t%s\t%s\n' - - - "${u%%|*}" "unbuildable: ${u#*|}"; done
}

mode=${1:-build}
case $mode in
  build | check) shift || true ;;
  list) list; exit 0 ;;
  __one) one "$2" "$3"; exit 0 ;;
  -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SELF"; exit 0 ;;
  *) mode=build ;;
esac
(($# > 0)) && names=("$@") || names=("${NAMES[@]}")
for n in "${names[@]}"; do spec "$n"; done # unknown names fail before anything is built

command -v docker >/dev/null && docker info >/dev/null 2>&1 || die "no Docker engine answers (sudo bash scripts/start-docker.sh)"
for c in go zstd dpkg-deb apt-get; do command -v "$c" >/dev/null || die "$c is missing (scripts/install-deps.sh)"; done
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -n 9 || { log "another run holds $CACHE/.lock; waiting"; flock 9; }

T0=$SECONDS
failed=()
for n in "${names[@]}"; do
  bash "$SELF" __one "$mode" "$n" || failed+=("$n")
done
if ((${#failed[@]})); then
  log "FAILED: ${failed[*]} (the reason is above each)"
  exit 1
fi
log "${#names[@]} images $([[ $mode == build ]] && echo ready || echo checked) in $((SECONDS - T0))s"

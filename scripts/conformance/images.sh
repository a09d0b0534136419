# Sourced by scripts/conformance-build.sh: the e2e test images, under the exact names the e2e
# framework uses (test/utils/image/manifest.go of k8s.io/kubernetes), so no KUBE_TEST_REPO_LIST is
# needed and pods find them on the nodes (a tag other than latest is pulled only if missing).
#
# Each image carries the label dev.mk.recipe (a hash of its inputs); a differing or missing label
# rebuilds it. Derived images are commits on top of their base, so they share its layer.

readonly CONF_REGISTRY=registry.k8s.io/e2e-test-images
readonly DEBIAN_SUITE=bookworm
readonly BUSYBOX_SUITE=trixie # the Debian release whose busybox source is the framework's busybox version
busybox_version() { local v=${1##*:}; echo "${v%-*}"; } # registry/busybox:1.37.0-1 -> 1.37.0
# The tools upstream's agnhost image installs (bind-tools, curl, netcat-openbsd, iproute2, iperf,
# bash, util-linux-misc) as Debian packages, plus what its alpine base gives through busybox and
# e2e specs call (wget, ping, ps, iptables for the kube-proxy specs), and nginx for the nginx images.
readonly DEBIAN_PACKAGES=(
  bash curl netcat-openbsd dnsutils iproute2 iptables iperf util-linux procps wget iputils-ping
  ca-certificates nginx-light
)

# The images built here: "ID|name:tag|builder". ID is the manifest's ImageID; name:tag as the
# framework prints it (GetE2EImage) for K8S_VERSION. conformance_images_check verifies the tags.
# Bases come first (Agnhost before Kitten and Nautilus; BusyBox before Nonewprivs and APIServer).
conformance_images() {
  cat <<LIST
Agnhost|$CONF_REGISTRY/agnhost:2.63.0|img_agnhost
BusyBox|$CONF_REGISTRY/busybox:1.37.0-1|img_busybox
AgnhostPrev|$CONF_REGISTRY/agnhost:2.55|img_agnhost_prev
APIServer|$CONF_REGISTRY/sample-apiserver:1.29.2|img_sample_apiserver
GlibcDnsTesting|$CONF_REGISTRY/glibc-dns-testing:2.0.0|img_glibc_dns
Kitten|$CONF_REGISTRY/kitten:1.8|img_kitten
Nautilus|$CONF_REGISTRY/nautilus:1.8|img_nautilus
NonRoot|$CONF_REGISTRY/nonroot:1.5|img_nonroot
Nonewprivs|$CONF_REGISTRY/nonewprivs:1.4|img_nonewprivs
Nginx|$CONF_REGISTRY/nginx:1.15-4|img_nginx
NginxNew|$CONF_REGISTRY/nginx:1.27-0|img_nginx
LIST
}

dbg_size() { docker image inspect -f '{{.Size}}' "$1" | awk '{ printf "%.1f MB", $1 / 1e6 }'; }
label_of() { docker image inspect -f '{{index .Config.Labels "dev.mk.recipe"}}' "$1" 2>/dev/null || true; }
# recipe_of FN ARG...: a hash of the shell functions that build an image and its inputs.
recipe_of() { { declare -f "$1" derive webserver_image agnhost_image; printf '%s\n' "${@:2}"; } | sha256sum | cut -c1-16; }

# --- the Debian base -------------------------------------------------------------------------
DEBIAN_TAG=''
debian_base() {
  local rec root log t=$SECONDS
  rec=$(recipe_of debian_base "$DEBIAN_SUITE" "${DEBIAN_PACKAGES[@]}")
  DEBIAN_TAG=mk.local/conformance/debian-tools:$rec
  docker image inspect "$DEBIAN_TAG" >/dev/null 2>&1 && return 0
  local cache=$CONF_DIR/images/debian-tools-$rec.tar.zst
  if [[ -f $cache ]]; then
    zstd -dc "$cache" | docker load >/dev/null && return 0
  fi
  [[ $(id -u) == 0 ]] || cdie "debootstrap needs root"
  command -v debootstrap >/dev/null || cdie "debootstrap is missing (scripts/install-deps.sh)"
  root=$(mktemp -d "${TMPDIR:-/tmp}/mk-conf-rootfs.XXXXXX")
  log=$root.log
  clog "debootstrap $DEBIAN_SUITE with ${DEBIAN_PACKAGES[*]}"
  nice -n 10 debootstrap --variant=minbase --include="$(IFS=,; echo "${DEBIAN_PACKAGES[*]}")" \
    "$DEBIAN_SUITE" "$root" "${MK_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$log" 2>&1 ||
    { tail -n 30 "$log" >&2; rm -rf "$root" "$log"; cdie "debootstrap failed"; }
  # As debian:bookworm-slim: no apt lists, caches, docs or manuals; the runtime writes these files.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log "$root"/dev/*
  : >"$root/etc/hostname"
  : >"$root/etc/resolv.conf"
  # Debian's nginx starts nothing here: the nginx images run it in the foreground themselves.
  rm -f "$root"/etc/nginx/sites-enabled/default
  tar --numeric-owner -C "$root" -c . | docker import -c 'CMD ["bash"]' \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c "LABEL dev.mk.recipe=$rec" - "$DEBIAN_TAG" >/dev/null
  rm -rf "$root" "$log"
  mkdir -p "$CONF_DIR/images"
  docker save "$DEBIAN_TAG" | zstd -q -T0 -o "$cache.tmp" -f && mv -f "$cache.tmp" "$cache"
  TIMINGS+=("debian base (debootstrap + import): $((SECONDS - t))s, $(dbg_size "$DEBIAN_TAG")")
}

# derive BASE TAG RECIPE DIR CHANGE...: TAG is BASE plus the files of DIR (copied to /), with the
# Dockerfile-style CHANGEs (CMD, ENTRYPOINT, USER, ...) applied; one layer on top of BASE.
derive() {
  local base=$1 tag=$2 rec=$3 dir=$4 c args=()
  shift 4
  for c in "$@"; do args+=(--change "$c"); done
  args+=(--change "LABEL dev.mk.recipe=$rec")
  c=$(docker create "$base") # not started: only its filesystem and config are used
  # A tar stream keeps owners and modes (setuid bits too); docker cp of a dir would not.
  tar --numeric-owner -C "$dir" -c . | docker cp - "$c:/" || { docker rm -f "$c" >/dev/null; return 1; }
  local ok=0
  docker commit "${args[@]}" "$c" "$tag" >/dev/null || ok=1
  docker rm -f "$c" >/dev/null
  return "$ok"
}

# --- the images ------------------------------------------------------------------------------
# Each img_* gets TAG and a scratch DIR, and builds TAG (its recipe computed by the caller).

img_agnhost() { agnhost_image "$1" "$2" "$3" agnhost; }
img_agnhost_prev() { agnhost_image "$1" "$2" "$3" agnhost-prev; } # agnhost 2.56 standing for 2.55 (go.sh)

agnhost_image() { # TAG DIR RECIPE BINARY: the agnhost binary on the Debian tools base
  local tag=$1 dir=$2 src
  src=$(k8s_src)/test/images/agnhost
  cp "$CONF_BIN/$4" "$dir/agnhost"
  ln -s agnhost "$dir/agnhost-2"                     # the entrypoint-tester specs run agnhost-2
  cp "$(coredns_bin)" "$dir/coredns"                 # upstream unpacks a CoreDNS release at /
  cp "$src/porter/localhost.crt" "$src/porter/localhost.key" "$dir/"
  mkdir -p "$dir/uploads" "$dir/etc"
  # The image's users: root's and Debian's, plus user-defined-in-image (1000) in
  # group-defined-in-image (50000), which the SupplementalGroups specs look for.
  docker run --rm --entrypoint cat "$DEBIAN_TAG" /etc/passwd >"$dir/etc/passwd"
  docker run --rm --entrypoint cat "$DEBIAN_TAG" /etc/group >"$dir/etc/group"
  echo 'user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh' >>"$dir/etc/passwd"
  printf '%s\n' 'user-defined-in-image:x:1000:' 'group-defined-in-image:x:50000:user-defined-in-image' >>"$dir/etc/group"
  mkdir -p "$dir/home/user-defined-in-image" && chown 1000:1000 "$dir/home/user-defined-in-image"
  derive "$DEBIAN_TAG" "$tag" "$3" "$dir" 'ENTRYPOINT ["/agnhost"]' 'CMD ["pause"]' 'WORKDIR /'
}

img_sample_apiserver() { # k8s.io/sample-apiserver v0.29.2 on busybox (upstream: alpine)
  cp "$CONF_BIN/sample-apiserver" "$2/sample-apiserver"
  derive "$BUSYBOX_TAG" "$1" "$3" "$2" 'ENTRYPOINT ["/sample-apiserver"]' 'CMD []'
}

img_glibc_dns() { # debian:bookworm-slim + dnsutils + a CoreDNS binary at /
  cp "$(coredns_bin)" "$2/coredns"
  derive "$DEBIAN_TAG" "$1" "$3" "$2" 'CMD ["bash"]'
}

img_kitten() { webserver_image "$1" "$2" "$3" kitten; }
img_nautilus() { webserver_image "$1" "$2" "$3" nautilus; }
webserver_image() { # agnhost + a picture and data.json, serving them with test-webserver
  local html
  html=$(k8s_src)/test/images/$4/html
  cp "$html/$4.jpg" "$html/data.json" "$2/"
  derive "$AGNHOST_TAG" "$1" "$3" "$2" 'CMD ["test-webserver"]'
}

img_nonroot() { derive "$DEBIAN_TAG" "$1" "$3" "$2" 'USER 1234'; } # debian-base + USER 1234

img_nonewprivs() { # a setuid-root nnp on busybox: it prints its effective uid
  mkdir -p "$2/usr/local/bin"
  cp "$CONF_BIN/nnp" "$2/usr/local/bin/nnp" && chmod 4755 "$2/usr/local/bin/nnp"
  derive "$BUSYBOX_TAG" "$1" "$3" "$2" 'CMD ["nnp"]'
}

img_nginx() { # Debian's nginx laid out as the official image: port 80, /usr/share/nginx/html, logs to stdio
  # (not its STOPSIGNAL SIGQUIT, which docker commit refuses; SIGTERM stops nginx too, just not gracefully)
  mkdir -p "$2/etc/nginx" "$2/usr/share/nginx/html"
  cat >"$2/etc/nginx/nginx.conf" <<'CONF'
user www-data;
worker_processes auto;
pid /run/nginx.pid;
error_log /dev/stderr notice;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log /dev/stdout;
  sendfile on;
  keepalive_timeout 65;
  server {
    listen 80;
    listen [::]:80;
    server_name localhost;
    location / { root /usr/share/nginx/html; index index.html index.htm; }
  }
}
CONF
  docker run --rm --entrypoint cat "$DEBIAN_TAG" /usr/share/nginx/html/index.html >"$2/usr/share/nginx/html/index.html"
  derive "$DEBIAN_TAG" "$1" "$3" "$2" 'CMD ["nginx", "-g", "daemon off;"]' 'EXPOSE 80'
}

img_busybox() { # upstream busybox (busybox_upstream below) on an empty root, laid out as the official image
  local root=$2
  mkdir -p "$root/bin" "$root/etc" "$root/root" "$root/home" "$root/var/spool/mail" "$root/var/www" "$root/tmp" "$root/usr/sbin"
  chmod 1777 "$root/tmp" && chmod 700 "$root/root"
  cp "$CONF_BIN/busybox" "$root/bin/busybox"
  "$root/bin/busybox" --list | while read -r a; do [[ $a == busybox ]] || ln -s busybox "$root/bin/$a"; done
  cat >"$root/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
P
  printf '%s\n' root:x:0: daemon:x:1: bin:x:2: sys:x:3: adm:x:4: tty:x:5: disk:x:6: wheel:x:10:root \
    mail:x:8: www-data:x:33: operator:x:37: users:x:100: nogroup:x:65534: >"$root/etc/group"
  tar --numeric-owner -C "$root" -c . | docker import -c 'CMD ["sh"]' \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c "LABEL dev.mk.recipe=$3" - "$1" >/dev/null
}

# busybox_upstream VERSION: $CONF_BIN/busybox, built from upstream's source: the pristine tarball of
# Debian's source package (deb-src of BUSYBOX_SUITE, through apt with a private state directory),
# `make defconfig` + static, without tc (its CBQ code no longer builds against kernel headers).
# Not Debian's binary: Debian reverts ash's passing of environment variables whose names are not
# shell identifiers (data-1=...), which the env-from-Secret/ConfigMap conformance specs check.
busybox_upstream() {
  local v=$1 apt=$CONF_DIR/apt work log
  [[ -x $CONF_BIN/busybox && $(cat "$CONF_BIN/busybox.version" 2>/dev/null) == "$v" ]] && return 0
  local t=$SECONDS
  mkdir -p "$apt/parts" "$apt/lists/partial" "$apt/cache/archives/partial"
  printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "${MK_DEBIAN_MIRROR:-http://deb.debian.org/debian}" "$BUSYBOX_SUITE" >"$apt/parts/src.sources"
  local o=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt/parts" -o "Dir::State::Lists=$apt/lists"
    -o "Dir::Cache=$apt/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
  work=$(mktemp -d "${TMPDIR:-/tmp}/mk-conf-busybox.XXXXXX")
  log=$work/build.log
  apt-get "${o[@]}" update >"$log" 2>&1 || { tail -n 20 "$log" >&2; cdie "apt-get update ($BUSYBOX_SUITE deb-src) failed"; }
  (cd "$work" && apt-get "${o[@]}" source --download-only busybox >>"$log" 2>&1) || { tail -n 20 "$log" >&2; cdie "apt-get source busybox failed"; }
  [[ -f $work/busybox_$v.orig.tar.bz2 ]] || cdie "$BUSYBOX_SUITE's busybox source is not $v: $(cd "$work" && echo *.orig.*)"
  tar -C "$work" -xjf "$work/busybox_$v.orig.tar.bz2"
  (cd "$work/busybox-$v" && make defconfig >>"$log" 2>&1 &&
    sed -i -e 's/^# CONFIG_STATIC is not set/CONFIG_STATIC=y/' -e 's/^CONFIG_TC=y/# CONFIG_TC is not set/' .config &&
    nice -n 10 make -j"$(nproc)" >>"$log" 2>&1) || { tail -n 30 "$log" >&2; cdie "building busybox $v failed"; }
  mkdir -p "$CONF_BIN"
  cp "$work/busybox-$v/busybox" "$CONF_BIN/busybox" && echo "$v" >"$CONF_BIN/busybox.version"
  rm -rf "$work"
  TIMINGS+=("busybox $v from source: $((SECONDS - t))s")
}

coredns_bin() { # the CoreDNS test/k8s/node-image.sh built for the node image (kubeadm's version)
  local f=$K8S_VDIR/extra/coredns
  [[ -x $f ]] || cdie "$f is missing: run test/k8s/node-image.sh first"
  echo "$f"
}

AGNHOST_TAG='' BUSYBOX_TAG=''
build_images() {
  local id tag fn rec dir t built=() replaced=() listfile=$CONF_DIR/images.list
  [[ -f $CONF_BIN/.complete ]] || cdie "run '$0 go' first (agnhost and nnp come from it)"
  conf_go_env
  conformance_images_check
  debian_base
  while IFS='|' read -r id tag fn; do
    local old
    case $id in Agnhost) AGNHOST_TAG=$tag ;; BusyBox) BUSYBOX_TAG=$tag ;; esac
    case $fn in
      img_agnhost) rec=$(recipe_of "$fn" "$tag" "$DEBIAN_TAG" "$(sha256sum <"$CONF_BIN/agnhost")" "$(sha256sum <"$(coredns_bin)")") ;;
      img_agnhost_prev) rec=$(recipe_of "$fn" "$tag" "$DEBIAN_TAG" "$(sha256sum <"$CONF_BIN/agnhost-prev")" "$(sha256sum <"$(coredns_bin)")") ;;
      img_sample_apiserver) rec=$(recipe_of "$fn" "$tag" "$(label_of "$BUSYBOX_TAG")" "$(sha256sum <"$CONF_BIN/sample-apiserver")") ;;
      img_glibc_dns) rec=$(recipe_of "$fn" "$tag" "$DEBIAN_TAG" "$(sha256sum <"$(coredns_bin)")") ;;
      img_kitten | img_nautilus) rec=$(recipe_of "$fn" "$tag" "$(label_of "$AGNHOST_TAG")") ;;
      img_nonewprivs) rec=$(recipe_of "$fn" "$tag" "$(label_of "$BUSYBOX_TAG")" "$(sha256sum <"$CONF_BIN/nnp")") ;;
      img_busybox) busybox_upstream "$(busybox_version "$tag")"; rec=$(recipe_of "$fn" "$tag" "$(sha256sum <"$CONF_BIN/busybox")") ;;
      *) rec=$(recipe_of "$fn" "$tag" "$DEBIAN_TAG") ;;
    esac
    if [[ $(label_of "$tag") != "$rec" ]]; then
      t=$SECONDS
      old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null) || old=''
      dir=$(mktemp -d "${TMPDIR:-/tmp}/mk-conf-image.XXXXXX")
      "$fn" "$tag" "$dir" "$rec" || { rm -rf "$dir"; cdie "building $tag failed"; }
      rm -rf "$dir"
      # The image this one replaces under the tag (removed at the end: it may be a base).
      [[ -z $old ]] || replaced+=("$old")
      TIMINGS+=("$tag: $((SECONDS - t))s, $(dbg_size "$tag")")
    fi
    built+=("$tag")
  done < <(conformance_images)
  # Children first (a base still used by another image cannot go); what is still in use stays.
  for ((t = ${#replaced[@]} - 1; t >= 0; t--)); do docker rmi "${replaced[t]}" >/dev/null 2>&1 || true; done
  printf '%s\n' "${built[@]}" >"$listfile"
  clog "images ready (listed in $listfile):"
  for tag in "${built[@]}"; do clog "  $tag  $(dbg_size "$tag")"; done
}

# The framework's own names for the images listed above must match: e2e.test --list-images prints
# every image it may use (after KUBE_TEST_REPO_LIST), one per line.
conformance_images_check() {
  local all tag missing=()
  all=$(KUBE_TEST_REPO_LIST='' "$CONF_BIN/e2e.test" --list-images 2>/dev/null) || cdie "e2e.test --list-images failed"
  while IFS='|' read -r _ tag _; do
    grep -qxF "$tag" <<<"$all" || missing+=("$tag")
  done < <(conformance_images)
  ((${#missing[@]} == 0)) || cdie "e2e.test does not name these images (update scripts/conformance/images.sh): ${missing[*]}"
  printf '%s\n' "$all" >"$CONF_DIR/framework-images.list"
}

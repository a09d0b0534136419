# Sourced by scripts/conformance-build.sh: builds e2e.test, ginkgo and agnhost into $CONF_BIN.

# wrapper_module DIR [VERSION]: a throwaway module that requires k8s.io/kubernetes@VERSION (default
# K8S_VERSION) and replaces each staging module (every "k8s.io/X => ./staging/src/k8s.io/X" of its
# go.mod) with its published v0.N.M; the go line and godebug settings are copied, as they only
# apply in a main module.
wrapper_module() {
  local dir=$1 v=${2:-$K8S_VERSION} kmod m gd edits=()
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && go mod init mk.local/conformance >/dev/null 2>&1)
  kmod=$(k8s_gomod "$v")
  [[ -f $kmod ]] || cdie "no go.mod for k8s.io/kubernetes@$v"
  edits=(-require="k8s.io/kubernetes@$v" -go="$(awk '$1 == "go" { print $2; exit }' "$kmod")")
  while read -r m; do edits+=(-replace="$m=$m@v0.${v#v1.}"); done < <(
    awk '$2 == "=>" && $3 ~ /^\.\/staging\/src\// { print $1 }' "$kmod" | sort -u)
  ((${#edits[@]} > 20)) || cdie "found too few staging modules in $kmod"
  while read -r gd; do [[ -n $gd ]] && edits+=(-godebug="$gd"); done < <(awk '
    $1 == "godebug" && $2 == "(" { inblock = 1; next }
    inblock && $1 == ")" { inblock = 0; next }
    inblock && $1 ~ /=/ { print $1; next }
    $1 == "godebug" && $2 ~ /=/ { print $2 }' "$kmod")
  (cd "$dir" && go mod edit "${edits[@]}")
}

# The ginkgo version k8s.io/kubernetes requires (its CLI must match the library in e2e.test).
ginkgo_version() { awk '$1 == "github.com/onsi/ginkgo/v2" { print $2; exit }' "$(k8s_gomod)"; }

# The version ldflags of hack/lib/version.sh, on both version packages.
k8s_version_ldflags() {
  local pkg ldf="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldf+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$K8S_MINOR"
    ldf+=" -X $pkg.gitCommit=$K8S_VERSION -X $pkg.gitTreeState=clean -X $pkg.buildDate=$1"
  done
  echo "$ldf"
}

# have NAME: the binary is in CONF_BIN and reports the wanted version (where it can say it).
have() {
  [[ -x $CONF_BIN/$1 ]] || return 1
  case $1 in
    ginkgo) [[ $("$CONF_BIN/ginkgo" version) == *"${GINKGO_VERSION#v}"* ]] ;;
    agnhost) [[ $("$CONF_BIN/agnhost" --version 2>/dev/null) == *"$AGNHOST_VERSION"* ]] ;;
    e2e.test) [[ $(cat "$CONF_BIN/e2e.test.version" 2>/dev/null) == "$K8S_VERSION" ]] ;;
    *) return 0 ;;
  esac
}

# ensure_wrapper_at DIR VERSION PACKAGE@VERSION...: a wrapper module for another k8s.io/kubernetes
# version, made once, requiring the packages given.
ensure_wrapper_at() {
  local src=$1 v=$2
  shift 2
  [[ -f $src/.complete ]] && return 0
  wrapper_module "$src" "$v"
  (cd "$src" && go get "$@")
  touch "$src/.complete"
}

# The wrapper module, made once per version: requiring the packages built from it (-t: the
# test dependencies of test/e2e, which `go test -c` needs).
ensure_wrapper() {
  local src=$1
  [[ -f $src/.complete ]] && return 0
  local t=$SECONDS
  wrapper_module "$src"
  (cd "$src" && go get -t "k8s.io/kubernetes/test/e2e@$K8S_VERSION" \
    "k8s.io/kubernetes/test/images/agnhost@$K8S_VERSION" "k8s.io/kubernetes/test/images/nonewprivs@$K8S_VERSION")
  touch "$src/.complete"
  TIMINGS+=("resolve k8s wrapper module: $((SECONDS - t))s")
}

# built NAME CMD...: runs CMD (which writes $CONF_BIN/NAME.tmp), then moves it in place, timed.
built() {
  local name=$1 t=$SECONDS
  shift
  clog "building $name"
  "$@" || cdie "building $name failed"
  mv -f "$CONF_BIN/$name.tmp" "$CONF_BIN/$name"
  TIMINGS+=("$name: $((SECONDS - t))s")
}

build_go() {
  conf_go_env
  GINKGO_VERSION=$(ginkgo_version)
  [[ -n $GINKGO_VERSION ]] || cdie "no github.com/onsi/ginkgo/v2 requirement in k8s.io/kubernetes' go.mod"
  AGNHOST_VERSION=$(tr -d '[:space:]' <"$(k8s_src)/test/images/agnhost/VERSION")
  local src=$CONF_DIR/src gsrc=$CONF_DIR/src-ginkgo n missing=()
  for n in e2e.test ginkgo agnhost nnp agnhost-prev sample-apiserver; do have "$n" || missing+=("$n"); done
  if ((${#missing[@]} == 0)); then
    clog "cached: e2e.test ($K8S_VERSION), ginkgo $GINKGO_VERSION, agnhost $AGNHOST_VERSION, nnp in $CONF_BIN"
    return 0
  fi
  rm -f "$CONF_BIN/.complete"
  mkdir -p "$CONF_BIN"
  for n in "${missing[@]}"; do
    case $n in
      e2e.test)
        ensure_wrapper "$src"
        built e2e.test go_in "$src" nice -n 10 go test -c -trimpath -ldflags "$(k8s_version_ldflags "$(date -u +%Y-%m-%dT%H:%M:%SZ)")" \
          -o "$CONF_BIN/e2e.test.tmp" k8s.io/kubernetes/test/e2e
        echo "$K8S_VERSION" >"$CONF_BIN/e2e.test.version" ;;
      agnhost)
        ensure_wrapper "$src"
        built agnhost go_in "$src" nice -n 10 go build -trimpath -ldflags "-s -w -X main.Version=$AGNHOST_VERSION" \
          -o "$CONF_BIN/agnhost.tmp" k8s.io/kubernetes/test/images/agnhost ;;
      nnp)
        ensure_wrapper "$src"
        built nnp go_in "$src" nice -n 10 go build -trimpath -ldflags "-s -w" -o "$CONF_BIN/nnp.tmp" k8s.io/kubernetes/test/images/nonewprivs ;;
      agnhost-prev)
        # The framework's AgnhostPrev (agnhost 2.55) was never in a tagged k8s.io/kubernetes: 2.55
        # sat between v1.34.0-alpha.0 (2.53) and v1.34.0-alpha.1 (2.56). The nearest release built
        # instead is v1.34.0's agnhost 2.56 (a superset of 2.55), stamped as what it is (2.56).
        ensure_wrapper_at "$CONF_DIR/src-agnhost-prev" "$AGNHOST_PREV_FROM" "k8s.io/kubernetes/test/images/agnhost@$AGNHOST_PREV_FROM"
        built agnhost-prev go_in "$CONF_DIR/src-agnhost-prev" nice -n 10 go build -trimpath \
          -ldflags "-s -w -X main.Version=$(tr -d '[:space:]' <"$GOMODCACHE/k8s.io/kubernetes@$AGNHOST_PREV_FROM/test/images/agnhost/VERSION")" \
          -o "$CONF_BIN/agnhost-prev.tmp" k8s.io/kubernetes/test/images/agnhost ;;
      sample-apiserver)
        # The framework's sample-apiserver:1.29.2 is k8s.io/sample-apiserver v0.29.2 (a published
        # staging module: no replace directives, so a plain wrapper requiring it builds it).
        local ssrc=$CONF_DIR/src-sample-apiserver
        if [[ ! -f $ssrc/.complete ]]; then
          rm -rf "$ssrc" && mkdir -p "$ssrc"
          (cd "$ssrc" && go mod init mk.local/sampleapiserver >/dev/null 2>&1 && go get "k8s.io/sample-apiserver@$SAMPLE_APISERVER_FROM") &&
            touch "$ssrc/.complete"
        fi
        built sample-apiserver go_in "$ssrc" nice -n 10 go build -trimpath -ldflags "-s -w" -o "$CONF_BIN/sample-apiserver.tmp" k8s.io/sample-apiserver ;;
      ginkgo)
        # ginkgo has no replace directives, but a module of its own keeps its CLI's dependencies
        # out of the wrapper above (they could raise versions e2e.test is built with).
        if [[ ! -f $gsrc/.complete ]]; then
          rm -rf "$gsrc" && mkdir -p "$gsrc"
          (cd "$gsrc" && go mod init mk.local/ginkgo >/dev/null 2>&1 && go get -tool "github.com/onsi/ginkgo/v2/ginkgo@$GINKGO_VERSION") &&
            touch "$gsrc/.complete"
        fi
        built ginkgo go_in "$gsrc" nice -n 10 go build -trimpath -ldflags "-s -w" -o "$CONF_BIN/ginkgo.tmp" github.com/onsi/ginkgo/v2/ginkgo ;;
    esac
  done
  printf 'kubernetes=%s\nginkgo=%s\nagnhost=%s\ngo=%s\n' "$K8S_VERSION" "$GINKGO_VERSION" "$AGNHOST_VERSION" \
    "$(go env GOVERSION)" >"$CONF_BIN/versions.env"
  for n in e2e.test ginkgo agnhost nnp agnhost-prev sample-apiserver; do have "$n" || cdie "$n does not report the expected version"; done
  touch "$CONF_BIN/.complete"
}

go_in() { local d=$1; shift; (cd "$d" && "$@"); }

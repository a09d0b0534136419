# Sourced by image builders: download the .debs that packages need on top of an image, resolved
# against that image's own dpkg status (so only what it lacks), with the machine's apt.
#   image_debs <base image> <dest dir> <work dir> <package>...
image_debs() {
  local base=$1 dest=$2 work=$3
  shift 3
  mkdir -p "$dest/partial" "$work/state"
  docker run --rm --entrypoint cat "$base" /var/lib/dpkg/status >"$work/state/status"
  apt-get install -y -qq --download-only --no-install-recommends \
    -o Dir::State::status="$work/state/status" \
    -o Dir::Cache::archives="$dest" \
    -o Debug::NoLocking=1 \
    "$@" >"$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log" >&2; return 1; }
  rm -rf "$dest/partial" "$dest/lock"
}

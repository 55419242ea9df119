#!/usr/bin/env bash
# Builds asb's container images from this checkout's binaries, with no base image download:
#
#   asbd         asbd, asbctl, asb-init and asb-agent with exactly the shared libraries they link
#                (ldd closure), a passwd entry for the non-root user the manifests run as (65532)
#                and the host's CA bundle. Entry point: asbd (deploy/kubernetes passes the role);
#                exposed ports are the roles' (router 8080, controller 8081, webhook 9443), which
#                also tells asbd's own image support that the image is its own server.
#   asb-runtime  the sandbox runtime for a cluster, in place of upstream's python-runtime-sandbox:
#                asb-agent on 8888 as the entry point (the seed's run()/files API) over Python 3,
#                pip, bash and coreutils unpacked from Debian packages (scripts/lib/
#                debian_closure.py picks their dependencies; `apt-get download` fetches them into
#                a cache, so a rebuild is offline). Like distroless images it has no package
#                manager: no dpkg, debconf or perl, and no maintainer scripts were run.
#
#   scripts/build-images.sh [OUT_DIR]        default build/images; tag from $ASB_IMAGE_TAG or git
#   ASB_IMAGES="asbd"                        only some of them (default "asbd asb-runtime")
#   ASB_DEB_CACHE=DIR                        where the .debs are kept (default OUT_DIR/debs)
#
# Writes OUT_DIR/NAME-oci.tar (OCI archive: skopeo copy oci-archive:..., ctr import, docker load
# on Docker 25+) and OUT_DIR/NAME-docker.tar (docker-archive: docker load on any Docker) for each,
# and prints each archive's manifest digest. Needs umoci and skopeo (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN_DIR=${ASB_BIN_DIR:-build/bin}
OUT=${1:-build/images}
TAG=${ASB_IMAGE_TAG:-$(git describe --always --dirty 2>/dev/null || echo dev)}
IMAGES=${ASB_IMAGES:-asbd asb-runtime}
DEB_CACHE=${ASB_DEB_CACHE:-$OUT/debs}

for b in asbd asbctl asb-init asb-agent; do
  [[ -x "$BIN_DIR/$b" ]] || { echo "build-images: $BIN_DIR/$b is not built" >&2; exit 2; }
done
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
layout="$work/layout"
umoci init --layout "$layout"

# Starts image $1: an empty rootfs in $work/$1/rootfs, echoed.
begin_image() {
  echo "build-images: $1:$TAG from $BIN_DIR" >&2
  umoci new --image "$layout:$1" >&2
  umoci unpack --image "$layout:$1" "$work/$1" >/dev/null
  echo "$work/$1/rootfs"
}

# Ends image $1: repacks its rootfs, applies the umoci config flags given, and writes both
# archives with their digests.
finish_image() {
  local name=$1
  shift
  umoci repack --image "$layout:$name" "$work/$name"
  umoci config --image "$layout:$name" --os linux --architecture amd64 "$@" \
    --config.label org.opencontainers.image.title="$name" \
    --config.label org.opencontainers.image.version="$TAG"
  umoci gc --layout "$layout"
  rm -f "$OUT/$name-oci.tar" "$OUT/$name-docker.tar"
  skopeo copy --quiet "oci:$layout:$name" "oci-archive:$OUT/$name-oci.tar:$name:$TAG"
  skopeo copy --quiet "oci:$layout:$name" "docker-archive:$OUT/$name-docker.tar:$name:$TAG"
  for a in oci-archive:"$OUT/$name-oci.tar" docker-archive:"$OUT/$name-docker.tar"; do
    printf '%s %s\n' "$(skopeo inspect --format '{{.Digest}}' "$a")" "$a"
  done
}

install_ca_bundle() {
  install -d -m 0755 "$1/etc/ssl/certs"
  if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
    install -m 0644 /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/ca-certificates.crt"
  fi
}

build_asbd() {
  local root
  root=$(begin_image asbd)
  # The binaries and their shared libraries (with the dynamic loader), at the paths they are
  # linked against, so the image needs no distribution underneath.
  install -d -m 0755 "$root/usr/bin" "$root/etc" "$root/var/lib/asb"
  install -d -m 1777 "$root/tmp"
  # Stripped: the debug info is most of their size and stays in the build tree.
  for b in asbd asbctl asb-init asb-agent; do install -s -m 0755 "$BIN_DIR/$b" "$root/usr/bin/$b"; done
  # (ldd fails on the static ones, asb-agent and asb-init: they need nothing.)
  for b in asbd asbctl asb-init asb-agent; do ldd "$BIN_DIR/$b" 2>/dev/null || true; done |
    grep -oE '(/[^ ]+\.so[^ ]*)' | sort -u | while read -r lib; do
      install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
    done
  cat >"$root/etc/passwd" <<'PW'
root:x:0:0:root:/root:/usr/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/usr/sbin/nologin
PW
  cat >"$root/etc/group" <<'GR'
root:x:0:
nonroot:x:65532:
GR
  echo "hosts: files dns" >"$root/etc/nsswitch.conf"
  install_ca_bundle "$root"
  chown -R 0:0 "$root"
  chown 65532:65532 "$root/var/lib/asb"
  finish_image asbd --config.entrypoint /usr/bin/asbd --config.user 65532:65532 \
    --config.workingdir / --config.env PATH=/usr/bin \
    --config.exposedports 8080/tcp --config.exposedports 8081/tcp --config.exposedports 9443/tcp
}

# What the runtime image is made of, and what it must not pull in (see the header).
RUNTIME_PACKAGES=(python3 python-is-python3 python3-pip bash dash coreutils findutils grep sed gawk)
RUNTIME_EXCLUDED=(dpkg debconf perl perl-base install-info tar mailcap)

build_runtime() {
  local root packages
  mapfile -t packages < <(python3 scripts/lib/debian_closure.py "${RUNTIME_PACKAGES[@]}" \
    "${RUNTIME_EXCLUDED[@]/#/--exclude=}")
  mkdir -p "$DEB_CACHE"
  local missing=()
  for p in "${packages[@]}"; do
    compgen -G "$DEB_CACHE/${p}_*.deb" >/dev/null || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "build-images: downloading ${#missing[@]} Debian packages into $DEB_CACHE" >&2
    (cd "$DEB_CACHE" && apt-get download -q "${missing[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
    for p in "${missing[@]}"; do
      compgen -G "$DEB_CACHE/${p}_*.deb" >/dev/null ||
        { echo "build-images: apt-get download $p failed" >&2; exit 1; }
    done
  fi
  root=$(begin_image asb-runtime)
  local listing="$work/packages.txt"
  : >"$listing"
  for p in "${packages[@]}"; do
    # The newest cached version of the package (a cache may hold older ones too).
    deb=$(ls -v "$DEB_CACHE/${p}"_*.deb | tail -1)
    dpkg-deb -x "$deb" "$root"
    dpkg-deb -W --showformat='${Package} ${Version}\n' "$deb" >>"$listing"
  done
  # What a sandbox never reads: documentation, manuals, translations.
  rm -rf "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/info" \
    "$root/usr/share/locale" "$root/usr/share/lintian"
  install -D -m 0644 "$listing" "$root/usr/share/asb/packages.txt"
  # The links update-alternatives would have made in the maintainer scripts.
  ln -s gawk "$root/usr/bin/awk"
  ln -s which.debianutils "$root/usr/bin/which"
  # The sandbox is the environment an agent installs into, as upstream's python-runtime (a
  # python:slim image) lets it: `pip install` goes to /usr/local without --break-system-packages.
  rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
  install -s -m 0755 "$BIN_DIR/asb-agent" "$root/usr/bin/asb-agent"
  cat >"$root/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
PW
  cat >"$root/etc/group" <<'GR'
root:x:0:
nogroup:x:65534:
GR
  echo "hosts: files dns" >"$root/etc/nsswitch.conf"
  install_ca_bundle "$root"
  install -d -m 0755 "$root/app" "$root/root"
  install -d -m 1777 "$root/tmp"
  chown -R 0:0 "$root"
  # As upstream's python-runtime-sandbox: root in /app, the API on 8888 (the declared port
  # also tells asbd's image support that the image is its own server).
  finish_image asb-runtime --config.entrypoint /usr/bin/asb-agent \
    --config.entrypoint --port=8888 --config.user 0:0 --config.workingdir /app \
    --config.env PATH=/usr/local/bin:/usr/bin:/bin --config.env LANG=C.UTF-8 \
    --config.env SANDBOX_BASE_DIR=/app --config.exposedports 8888/tcp
}

for image in $IMAGES; do
  case $image in
    asbd) build_asbd ;;
    asb-runtime) build_runtime ;;
    *) echo "build-images: unknown image $image (asbd, asb-runtime)" >&2; exit 2 ;;
  esac
done

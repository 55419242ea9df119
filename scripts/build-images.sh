#!/usr/bin/env bash
# Builds the asbd container image offline from this checkout's binaries: no registry, no base
# image download. The image holds asbd, asbctl, asb-init and asb-agent with exactly the shared
# libraries they link (ldd closure), a passwd entry for the non-root user the manifests run as
# (65532), and the host's CA bundle. Entry point: asbd (deploy/kubernetes passes the role);
# exposed ports are the roles' (router 8080, controller 8081, webhook 9443), which also tells
# asbd's own image support that the image is its own server (no asb-agent injected).
#
#   scripts/build-images.sh [OUT_DIR]        default build/images; tag from $ASB_IMAGE_TAG or git
#
# Writes OUT_DIR/asbd-oci.tar (OCI archive: skopeo copy oci-archive:..., ctr import, docker load
# on Docker 25+) and OUT_DIR/asbd-docker.tar (docker-archive: docker load on any Docker), and
# prints each image's manifest digest. Needs umoci and skopeo (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN_DIR=${ASB_BIN_DIR:-build/bin}
OUT=${1:-build/images}
TAG=${ASB_IMAGE_TAG:-$(git describe --always --dirty 2>/dev/null || echo dev)}
NAME=asbd

for b in asbd asbctl asb-init asb-agent; do
  [[ -x "$BIN_DIR/$b" ]] || { echo "build-images: $BIN_DIR/$b is not built" >&2; exit 2; }
done
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
layout="$work/layout"
bundle="$work/bundle"

echo "build-images: $NAME:$TAG from $BIN_DIR"
umoci init --layout "$layout"
umoci new --image "$layout:$NAME"
umoci unpack --image "$layout:$NAME" "$bundle" >/dev/null
root="$bundle/rootfs"

# The binaries and their shared libraries (with the dynamic loader), at the paths they are
# linked against, so the image needs no distribution underneath.
install -d -m 0755 "$root/usr/bin" "$root/etc/ssl/certs" "$root/var/lib/asb"
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
if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
  install -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
fi
chown -R 0:0 "$root"
chown 65532:65532 "$root/var/lib/asb"

umoci repack --image "$layout:$NAME" "$bundle"
umoci config --image "$layout:$NAME" --os linux --architecture amd64 \
  --config.entrypoint /usr/bin/asbd --config.user 65532:65532 --config.workingdir / \
  --config.env PATH=/usr/bin \
  --config.exposedports 8080/tcp --config.exposedports 8081/tcp --config.exposedports 9443/tcp \
  --config.label org.opencontainers.image.title=asbd \
  --config.label org.opencontainers.image.version="$TAG"
umoci gc --layout "$layout"

rm -f "$OUT/asbd-oci.tar" "$OUT/asbd-docker.tar"
skopeo copy --quiet "oci:$layout:$NAME" "oci-archive:$OUT/asbd-oci.tar:$NAME:$TAG"
skopeo copy --quiet "oci:$layout:$NAME" "docker-archive:$OUT/asbd-docker.tar:$NAME:$TAG"
for a in oci-archive:"$OUT/asbd-oci.tar" docker-archive:"$OUT/asbd-docker.tar"; do
  printf '%s %s\n' "$(skopeo inspect --format '{{.Digest}}' "$a")" "$a"
done

#!/usr/bin/env bash
# The base image the images build on where no registry can be reached: Debian bookworm made
# by debootstrap and imported into podman as localhost/toucan-debian-base:bookworm.
# The rootfs tarball is kept in $TOUCAN_DEPLOY_CACHE (default /var/cache/toucan-deploy) and
# reused; the image is made again only when podman's storage lacks it.
set -euo pipefail
export CONTAINERS_CONF=${CONTAINERS_CONF:-$(cd "$(dirname "$0")" && pwd)/containers.conf}
BASE_IMAGE=${BASE_IMAGE:-localhost/toucan-debian-base:bookworm}
CACHE=${TOUCAN_DEPLOY_CACHE:-/var/cache/toucan-deploy}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
TARBALL=$CACHE/debian-bookworm-minbase.tar

if podman image exists "$BASE_IMAGE"; then
  echo "base image $BASE_IMAGE: present"
  exit 0
fi
mkdir -p "$CACHE"
if [ ! -s "$TARBALL" ]; then
  rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  echo "debootstrap bookworm (minbase) from $MIRROR"
  debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/debootstrap.log"; exit 1; }
  # The same package sources as the public debian:bookworm-slim image (updates, security).
  rm -f "$rootfs/etc/apt/sources.list"
  security=${DEBIAN_SECURITY_MIRROR:-${MIRROR%/debian}/debian-security}
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -cf "$TARBALL.part" . && mv "$TARBALL.part" "$TARBALL"
fi
echo "importing $TARBALL as $BASE_IMAGE"
podman import --quiet --change 'CMD ["/bin/bash"]' "$TARBALL" "$BASE_IMAGE" >/dev/null
echo "base image $BASE_IMAGE made in $SECONDS s"

#!/usr/bin/env bash
# Builds the backend and frontend images with podman on the debootstrap base (base.sh):
#   localhost/toucan-backend:test and localhost/toucan-frontend:test (TAG overrides `test`).
# Podman's layer cache (its storage, outside the repository) is reused from one run to the
# next: only the layers whose inputs changed are built again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
BASE_IMAGE=${BASE_IMAGE:-localhost/toucan-debian-base:bookworm}
TAG=${TAG:-test}
# A TLS-inspecting proxy's CA (as on CI machines) must be trusted by pip, uv and npm in the build.
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

BASE_IMAGE=$BASE_IMAGE "$here/base.sh"
commit=$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || true)
build() {
  local name=$1 started=$SECONDS
  local secret=()
  [ -s "$CA_BUNDLE" ] && secret=(--secret "id=ca,src=$CA_BUNDLE")
  echo "building localhost/toucan-$name:$TAG"
  podman build --quiet --format docker --network=host "${secret[@]}" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "BUILD_COMMIT=$commit" \
    -f "$root/deploy/Dockerfile.$name" -t "localhost/toucan-$name:$TAG" "$root" >/dev/null
  echo "built localhost/toucan-$name:$TAG in $((SECONDS - started)) s"
}
build backend
build frontend
echo "images ready in $SECONDS s"

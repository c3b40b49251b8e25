#!/usr/bin/env bash
# Builds Discobot's images where no registry can be reached: the Debian base that
# sandbox/build-image.sh makes, then on it a Python 3.11 base, the server image (the top
# Dockerfile) and the stand-ins for the official postgres, redis and nginx images that
# compose.yaml runs. With a registry, `docker build -t discobot:latest .` and the official
# images (POSTGRES_IMAGE, REDIS_IMAGE, PROXY_IMAGE) do the same job.
# Idempotent: the base is made once, and docker's build cache skips unchanged steps.
#   DISCOBOT_IMAGE  the server image's tag (default discobot:latest)
#   ONLY            `server` builds only the Python base and the server image
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"

base="$(bash "$root/sandbox/build-image.sh" --base-only | tail -n 1)"
build() {
    local tag="$1" context="$2"
    shift 2
    docker build --quiet --force-rm --build-arg "BASE=$base" "$@" -t "$tag" "$context" >/dev/null
    echo "built $tag"
}

# The Python base's context: its Dockerfile and this machine's added trust anchors.
python_context="$(mktemp -d /tmp/discobot-python.XXXXXX)"
trap 'rm -rf "$python_context"' EXIT
cp "$here/python/Dockerfile" "$python_context/"
mkdir "$python_context/ca-certificates"
find /usr/local/share/ca-certificates -maxdepth 1 -name '*.crt' -exec cp {} "$python_context/ca-certificates/" \; 2>/dev/null || true

build discobot-python:3.11 "$python_context"
build "${DISCOBOT_IMAGE:-discobot:latest}" "$root" --build-arg PYTHON_IMAGE=discobot-python:3.11
[[ "${ONLY:-}" == server ]] && exit 0
build discobot-postgres:15 "$here/postgres"
build discobot-redis:7 "$here/redis"
build discobot-nginx:1.22 "$here/nginx"

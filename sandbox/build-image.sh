#!/usr/bin/env bash
# Builds the sandbox image without a registry: a minimal Debian root file system from the mirror
# apt already uses (debootstrap), imported as the base, then sandbox/Dockerfile on top.
# Idempotent: the base is made once per suite, and docker's build cache skips unchanged steps.
#   SANDBOX_IMAGE  the tag to build (default discobot-sandbox:latest)
#   DEBIAN_SUITE / DEBIAN_MIRROR  override what is read from /etc/apt/sources.list*
# `--base-only` makes just the Debian base and prints its tag last (deploy/build-images.sh
# builds the server's images on it).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
image="${SANDBOX_IMAGE:-discobot-sandbox:latest}"

# The first deb.debian.org-style source apt uses: the mirror this machine can reach.
apt_source() {
    local field="$1"
    local files=()
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -f "$f" ]] && files+=("$f")
    done
    [[ ${#files[@]} -gt 0 ]] || return 0
    cat "${files[@]}" | awk -v field="$field" '
        /^deb / && $2 !~ /security/ {
            if (field == "uri") print $2; else print $3; exit
        }
        /^URIs:/ && $2 !~ /security/ { uri = $2 }
        /^Suites:/ && uri != "" {
            if (field == "uri") print uri; else print $2; exit
        }'
}

suite="${DEBIAN_SUITE:-$(apt_source suite)}"
mirror="${DEBIAN_MIRROR:-$(apt_source uri)}"
: "${suite:?no Debian suite found in /etc/apt/sources.list*; set DEBIAN_SUITE}"
: "${mirror:?no Debian mirror found in /etc/apt/sources.list*; set DEBIAN_MIRROR}"
base="discobot-debian-base:${suite}"

if ! docker image inspect "$base" >/dev/null 2>&1; then
    command -v debootstrap >/dev/null || {
        echo "debootstrap is missing: apt-get install -y debootstrap" >&2
        exit 1
    }
    rootfs="$(mktemp -d /tmp/discobot-rootfs.XXXXXX)"
    trap 'rm -rf "$rootfs"' EXIT
    echo "debootstrap $suite from $mirror"
    debootstrap --variant=minbase "$suite" "$rootfs" "$mirror"
    # The image's apt reads the same mirror, security updates included.
    printf 'deb %s %s main\n' "$mirror" "$suite" >"$rootfs/etc/apt/sources.list"
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" -c . | docker import - "$base"
fi

if [[ "${1:-}" == "--base-only" ]]; then
    echo "$base"
    exit 0
fi

docker build --build-arg "BASE=$base" -t "$image" "$here"
docker image inspect "$image" --format "built $image: {{.Size}} bytes"

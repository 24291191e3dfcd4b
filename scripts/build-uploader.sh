#!/usr/bin/env bash
# Rebuilds the browser uploader's bundle (ckanext/dcor_depot/assets/
# uploader/dist/uploader.js and .css) from its npm lock file. The result is
# committed, so installing the extension needs no npm; this script rebuilds
# it byte for byte (same lock file, same sources, same bytes).
#   bash scripts/build-uploader.sh          # install from the lock file, build
#   bash scripts/build-uploader.sh --check  # also build twice and compare,
#                                           # and with the committed bundle
set -euo pipefail
cd "$(dirname "$0")/../ckanext/dcor_depot/assets/uploader"
if ! command -v npm >/dev/null; then
    # a bare Debian 12 has none: Debian's npm (and its Node.js)
    echo "build-uploader: installing Debian's npm" >&2
    as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq \
        --no-install-recommends npm >/dev/null
fi
npm ci --no-audit --no-fund --loglevel=error
node build.mjs
if [ "${1:-}" = "--check" ]; then
    saved=$(mktemp -d)
    cp dist/uploader.js dist/uploader.css "$saved/"
    node build.mjs
    cmp "$saved/uploader.js" dist/uploader.js
    cmp "$saved/uploader.css" dist/uploader.css
    rm -r "$saved"
    echo "build-uploader: two builds are byte for byte the same"
    # ... and the same as the bundle the repository ships
    if command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1; then
        git diff --exit-code --stat -- dist/
        echo "build-uploader: the build is byte for byte the committed bundle"
    fi
fi
sha256sum dist/uploader.js dist/uploader.css

#!/usr/bin/env bash
# Rebuilds the browser uploader's bundle (ckanext/dcor_depot/assets/
# uploader/dist/uploader.js and .css) from its npm lock file. The result is
# committed, so installing the extension needs no npm; this script rebuilds
# it byte for byte (same lock file, same sources, same bytes).
#   bash scripts/build-uploader.sh          # install from the lock file, build
#   bash scripts/build-uploader.sh --check  # also build twice and compare
set -euo pipefail
cd "$(dirname "$0")/../ckanext/dcor_depot/assets/uploader"
if ! command -v npm >/dev/null; then
    echo "build-uploader: npm is missing (apt-get install npm)" >&2
    exit 1
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
fi
sha256sum dist/uploader.js dist/uploader.css

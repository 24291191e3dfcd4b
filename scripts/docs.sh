#!/usr/bin/env bash
# Builds the docs site (doc/) into doc/_build/html and checks it:
#
#   scripts/docs.sh
#
# - The reference pages are generated from the code, so CKAN must be
#   importable: the docs use the stack's virtual environment (built by
#   `scripts/stack.sh venv-up` if missing; no service is started) with the
#   `docs` extra of setup.cfg installed.
# - Warnings are errors (-W), all of them are shown (--keep-going), and
#   every cross-reference must resolve (-n): a configuration key, action or
#   command without docs, or a broken reference, fails the build.
# - Links are checked offline: Sphinx's linkcheck with every URL that has
#   a scheme ignored (conf.py's linkcheck_ignore) checks links to files of
#   the docs, and dcor_docs.links checks every relative href/src of the
#   built HTML and its #fragment. No external URL is fetched.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$REPO/doc/_build"

log() { echo "[docs] $*" >&2; }

bash "$REPO/scripts/stack.sh" venv-up >&2
VENV="$(bash "$REPO/scripts/stack.sh" venv)"

# the docs extra, installed again only when setup.cfg changed
stamp_file="$VENV/.dcor-depot-docs-stamp"
stamp="$(sha256sum "$REPO/setup.cfg" | cut -c1-16)"
if [ ! -f "$stamp_file" ] || [ "$(cat "$stamp_file")" != "$stamp" ] \
    || [ ! -x "$VENV/bin/sphinx-build" ]; then
  log "installing the docs' requirements (setup.cfg extra 'docs') into $VENV"
  pip_log="$VENV/pip-install-docs.log"
  "$VENV/bin/pip" install -e "$REPO[docs]" >"$pip_log" 2>&1 \
    || { tail -n 30 "$pip_log" >&2; log "pip failed, see $pip_log"; exit 1; }
  echo "$stamp" > "$stamp_file"
fi

began=$SECONDS
log "building doc/ (warnings are errors)"
# -E: a fresh environment, so that every page's warnings are shown again
"$VENV/bin/sphinx-build" -q -E -W --keep-going -n -b html \
  -d "$OUT/doctrees" "$REPO/doc" "$OUT/html"
log "checking links offline (Sphinx linkcheck, external URLs ignored)"
"$VENV/bin/sphinx-build" -q -W --keep-going -n -b linkcheck \
  -d "$OUT/doctrees" "$REPO/doc" "$OUT/linkcheck"
PYTHONPATH="$REPO/doc/_ext" "$VENV/bin/python" -m dcor_docs.links "$OUT/html"
log "built and checked in $((SECONDS - began)) s: $OUT/html/index.html"

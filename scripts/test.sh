#!/usr/bin/env bash
# Runs the test suite on the local stack, starting the stack first.
# Extra arguments go to pytest, e.g. scripts/test.sh -k policy
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO/scripts/stack.sh" up
VENV="$(bash "$REPO/scripts/stack.sh" venv)"
TEST_INI="$(bash "$REPO/scripts/stack.sh" test-ini)"
cd "$REPO"
exec "$VENV/bin/pytest" --ckan-ini="$TEST_INI" "$@"

#!/usr/bin/env bash
# Runs a selection of CKAN core's own tests, from the installed ckan package,
# with dcor_depot loaded for every test: the action tests of create, update,
# delete, patch and get, the uploader tests, and the dataset and resource
# page (controller) tests. Extra arguments go to pytest, e.g. -x or -k name.
#
# CKAN_VERSION and DCOR_TEST_SLOT work as for scripts/test.sh; the run uses
# the slot's test database and Redis db (CKAN's tests empty both), and its
# own folders in .stack/. Tests that clean CKAN's search index are left out
# where no Solr answers; the tests that fail on purpose are listed, with the
# policy of each, in ckanext/dcor_depot/tests/ckan_core/known_differences.txt.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO/scripts/stack.sh" up
VENV="$(bash "$REPO/scripts/stack.sh" venv)"
TEST_INI="$(bash "$REPO/scripts/stack.sh" test-ini)"
CORE="$REPO/ckanext/dcor_depot/tests/ckan_core"

CKAN_DIR="$("$VENV/bin/python" -c 'import ckan, os; print(os.path.dirname(ckan.__file__))')"
CKAN_PIN="$("$VENV/bin/python" -c 'import ckan; print(ckan.__version__)')"
TESTS=(
  tests/logic/action/test_create.py
  tests/logic/action/test_update.py
  tests/logic/action/test_delete.py
  tests/logic/action/test_patch.py
  tests/logic/action/test_get.py
  tests/lib/test_uploader.py
  tests/controllers/test_package.py
  tests/controllers/test_resource.py
)

RUN_DIR="$REPO/.stack/ckan-core-$(basename "$TEST_INI" .ini)"
rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR/depots"
INI="$RUN_DIR/ckan-core.ini"
{
  echo "[app:main]"
  echo "use = config:$CORE/test-core.ini"
  grep -E '^(sqlalchemy\.url|ckan\.redis\.url) = ' "$TEST_INI"
  echo "ckanext.dcor_depot.depots_path = $RUN_DIR/depots"
  # buckets of this run (if any is made) never meet another run's
  echo "dcor_object_store.bucket_name = tcore$(date +%s%N | tail -c 9)-circle-{organization_id}"
  case "$CKAN_PIN" in
    # as CKAN 2.12's test-core.ini: every upload goes to file storages
    # derived from the default one, and ckan.storage_path is not set; the
    # storage is on disk (not in memory) and follows the depot's symlinks
    2.12.*) printf '%s\n' "ckan.storage_path =" \
        "ckan.files.default_storages.default = test" \
        "ckan.files.storage.test.type = ckan:fs" \
        "ckan.files.storage.test.path = $RUN_DIR/files" \
        "ckan.files.storage.test.initialize = true" \
        "ckan.files.storage.test.follow_symlinks = true" \
        "WTF_CSRF_ENABLED = false" "SESSION_COOKIE_DOMAIN = test.ckan.net" ;;
    *) echo "ckan.storage_path = $RUN_DIR/storage" ;;
  esac
  # CKAN 2.11 reads logging from the first file of the chain only
  sed -n '/^\[loggers\]/,$p' "$TEST_INI"
} > "$INI"

cd "$REPO"
exec "$VENV/bin/pytest" --ckan-ini="$INI" \
  -p ckanext.dcor_depot.tests.ckan_core.force_plugin \
  "${TESTS[@]/#/$CKAN_DIR/}" "$@"

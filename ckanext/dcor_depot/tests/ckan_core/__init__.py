"""CKAN core's own tests, run with dcor_depot loaded
(scripts/test-ckan-core.sh): the pytest plugin that loads the extension for
every test, the ini, and the tests that differ from CKAN on purpose."""

import pytest

import ckan.plugins as p
from ckan.exceptions import CkanConfigurationException

from ckanext.dcor_depot import config as dcor_config
from ckanext.dcor_depot.storage import s3

from .conftest import ckan_command


@pytest.mark.ckan_config("ckan.plugins", "dcor_depot")
@pytest.mark.usefixtures("with_plugins")
def test_plugin_loads():
    assert p.plugin_loaded("dcor_depot")
    assert dcor_config.s3_enabled()


def test_declared_defaults():
    """The defaults come from config_declaration.yaml, whatever an ini
    sets (CKAN's own declaration reader)."""
    from ckan.config.declaration import Declaration, Key

    declaration = Declaration()
    declaration.load_plugin("dcor_depot")
    expected = {
        "dcor_object_store.bucket_name": "circle-{organization_id}",
        "dcor_object_store.ssl_verify": True,
        "ckanext.dcor_depot.depots_path": "/data/depots",
        "ckanext.dcor_depot.users_depot_name": "users-{hostname}",
        "ckanext.dcor_depot.figshare_api_url": "https://api.figshare.com/v2",
        "ckanext.dcor_depot.s3_part_size": 16 * 1024**2,
        "ckanext.dcor_depot.upload_url_expiry": 3600,
        "ckanext.dcor_depot.upload_max_part_size": 1024**3,
        "ckanext.dcor_depot.download_url_expiry": 3600,
        "ckanext.dcor_depot.deleted_grace_days": 30,
    }
    for key, value in expected.items():
        option = declaration[Key.from_string(key)]
        assert option.default == value or \
            option.normalize(option.default) == value, key


@pytest.mark.ckan_config("dcor_object_store.access_key_id", "")
@pytest.mark.ckan_config("ckan.plugins", "dcor_depot")
@pytest.mark.usefixtures("with_plugins")
def test_no_keys_means_s3_off(monkeypatch, ckan_config):
    monkeypatch.setitem(ckan_config, "dcor_object_store.access_key_id", "")
    assert p.plugin_loaded("dcor_depot")
    assert not dcor_config.s3_enabled()
    with pytest.raises(s3.S3NotConfigured):
        s3.get_client()


@pytest.mark.parametrize("key,value,problem", [
    ("dcor_object_store.bucket_name", "circle-{id}", "{organization_id}"),
    ("dcor_object_store.bucket_name", "all-circles", "{organization_id}"),
    ("dcor_object_store.bucket_name", "circle-{organization_id", "template"),
    ("ckanext.dcor_depot.depots_path", "data/depots", "absolute"),
    ("ckanext.dcor_depot.users_depot_name", "../users", "folder name"),
    ("dcor_object_store.endpoint_url", "ftp://s3", "http"),
    ("ckanext.dcor_depot.s3_part_size", "1024", "between"),
    ("ckanext.dcor_depot.s3_max_concurrency", "0", "between"),
    ("ckanext.dcor_depot.s3_max_attempts", "many", "whole number"),
    ("ckanext.dcor_depot.maintenance_page_size", "0", "between"),
    ("ckanext.dcor_depot.maintenance_page_size", "1001", "between"),
])
def test_wrong_value_names_the_key(ckan_config, monkeypatch, key, value,
                                   problem):
    monkeypatch.setitem(ckan_config, key, value)
    with pytest.raises(CkanConfigurationException) as info:
        dcor_config.check_config(ckan_config)
    message = str(info.value)
    assert key in message and problem in message
    assert "\n" not in message


@pytest.mark.parametrize("key,value", [
    ("dcor_object_store.bucket_name", "dcor-{site}"),
    ("ckanext.dcor_depot.depots_path", "relative/depots"),
])
def test_wrong_value_stops_startup(tmp_path, key, value, worker_ini):
    ini = tmp_path / "bad.ini"
    ini.write_text(worker_ini.read_text().replace(
        "[app:main]\n", f"[app:main]\n{key} = {value}\n", 1))
    result = ckan_command(ini, "jobs", "list")
    assert result.returncode != 0
    assert key in result.stderr
    assert "Traceback" not in result.stderr.splitlines()[-1]


def test_good_config_starts(worker_ini):
    result = ckan_command(worker_ini, "jobs", "list")
    assert result.returncode == 0, result.stderr[-3000:]

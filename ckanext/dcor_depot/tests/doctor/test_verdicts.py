"""The doctor's pure parts: what a measurement means, and nginx's config
read as nginx reads it (the shipped deploy/ site, includes followed)."""
import pytest

from ...doctor import nginx_conf, verdicts
from ..deployment import DEPLOY


@pytest.mark.parametrize("text, size", [
    ("1024", 1024), ("512k", 512 * 1024), ("100M", 100 * 1024**2),
    ("2g", 2 * 1024**3), ("0", 0)])
def test_nginx_sizes(text, size):
    assert verdicts.nginx_size(text) == size


@pytest.mark.parametrize("text", ["", "10 M", "1.5m", "10t", "-1"])
def test_bad_nginx_sizes(text):
    with pytest.raises(ValueError):
        verdicts.nginx_size(text)


@pytest.mark.parametrize("limit, max_mb, status", [
    ("20481M", 20480, "ok"), ("0", 20480, "ok"), ("21g", 20480, "ok"),
    ("20480M", 20480, "FAIL"), ("100M", 20480, "FAIL"), ("1m", 10, "FAIL")])
def test_body_limit_against_max_resource_size(limit, max_mb, status):
    result = verdicts.body_limit(limit, "server", max_mb)
    assert result.status == status
    if status == "FAIL":
        assert f"client_max_body_size {max_mb + 1}M" in result.message


def test_clock_skew():
    assert verdicts.clock_skew(-0.4).status == "ok"
    assert verdicts.clock_skew(59).status == "ok"
    late = verdicts.clock_skew(-400)
    assert late.status == "FAIL" and "-400 s" in late.message \
        and "NTP" in late.message


@pytest.mark.parametrize("untagged, tagged, staging, words", [
    (403, 200, 403, None),
    (200, 200, 403, "untagged object answered 200"),
    (403, 403, 403, "public=true answered 403"),
    (403, 200, 200, "staging upload answered 200")])
def test_bucket_policy(untagged, tagged, staging, words):
    result = verdicts.bucket_policy("circle-x", untagged, tagged, staging)
    assert result.status == ("ok" if words is None else "FAIL")
    assert words is None or words in result.message
    assert result.message.startswith("circle-x: ")


def test_exit_code_and_summary():
    results = [verdicts.ok("a", "x"), verdicts.skip("b", "y")]
    assert verdicts.exit_code(results) == 0
    results.append(verdicts.fail("c", "z"))
    assert verdicts.exit_code(results) == 1
    assert verdicts.summary(results) == \
        "1 ok, 1 failed, 1 skipped of 3 checks"
    assert results[2].line == "FAIL  c: z"


def write_main(tmp_path, site_text, listen_extra=""):
    site = tmp_path / "site.conf"
    site.write_text(site_text)
    main = tmp_path / "nginx.conf"
    main.write_text("events {}\nhttp {\n client_max_body_size 5m;\n"
                    f" include {tmp_path}/*.conf.d;\n include {site};\n"
                    f"{listen_extra}}}\n")
    (tmp_path / "other.conf.d").write_text(
        "server { listen 8080; server_name other.example.org; "
        "client_max_body_size 1m; }\n")
    return str(main)


def test_the_shipped_site_is_read_with_its_includes(tmp_path):
    text = (DEPLOY / "nginx-ckan.conf").read_text()
    directives = nginx_conf.load(write_main(tmp_path, text))
    http, server = nginx_conf.site_server(directives,
                                          "http://dcor.example.org")
    limit = nginx_conf.upload_body_limit(http, server)
    assert (limit.value, limit.where) == ("20481M", "server")
    assert "/_dcor_storage/" in nginx_conf.locations(server)
    # the other server of the same port is not ours; by port alone
    http, server = nginx_conf.site_server(directives, "http://10.0.0.1")
    assert nginx_conf.upload_body_limit(http, server).value == "20481M"
    http, server = nginx_conf.site_server(directives,
                                          "http://other.example.org:8080")
    assert nginx_conf.upload_body_limit(http, server).value == "1m"


def test_limits_fall_back_to_http_and_nginx_default(tmp_path):
    path = write_main(tmp_path, "server { listen 80; location / { } }\n")
    http, server = nginx_conf.site_server(nginx_conf.load(path),
                                          "http://any.example.org")
    limit = nginx_conf.upload_body_limit(http, server)
    assert (limit.value, limit.where) == ("5m", "http")
    assert nginx_conf.upload_body_limit([], server).value == "1m"


def test_unreadable_config(tmp_path):
    with pytest.raises(nginx_conf.ConfigUnreadable, match="No such file"):
        nginx_conf.load(str(tmp_path / "missing.conf"))
    bad = tmp_path / "bad.conf"
    bad.write_text("http { server { listen 80;\n")
    with pytest.raises(nginx_conf.ConfigUnreadable, match="bad.conf"):
        nginx_conf.load(str(bad))
    with pytest.raises(LookupError, match="no server block"):
        nginx_conf.site_server([], "http://x.example.org:9")

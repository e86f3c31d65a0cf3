"""Configuration layers: defaults, a HOST_CONFIG file, then HOST_* variables."""

import pytest

from host.config import ConfigError, load_settings


def test_defaults_come_from_config_default_toml():
    settings = load_settings({})
    assert settings["sync"]["interval_seconds"] == 300
    assert settings["plugins"]["bigcommerce"]["login_base_url"] == "https://login.bigcommerce.com"


def test_a_host_config_file_overrides_defaults_and_keeps_the_rest(tmp_path):
    extra = tmp_path / "site.toml"
    extra.write_text('[plugins.bigcommerce]\nclient_id = "abc"\n')
    settings = load_settings({"HOST_CONFIG": str(extra)})
    assert settings["plugins"]["bigcommerce"]["client_id"] == "abc"
    assert settings["plugins"]["bigcommerce"]["api_base_url"] == "https://api.bigcommerce.com"


def test_environment_variables_override_files_with_typed_values(tmp_path):
    settings = load_settings(
        {
            "HOST_SYNC__INTERVAL_SECONDS": "60",
            "HOST_SCHEDULER__ENABLED": "false",
            "HOST_PLUGINS__DISABLED": '["smtp"]',
            "HOST_PLUGINS__BIGCOMMERCE__CLIENT_ID": "from-env",
            "DATABASE_URL": "postgresql://postgres@127.0.0.1/test",
        }
    )
    assert settings["sync"]["interval_seconds"] == 60
    assert settings["scheduler"]["enabled"] is False
    assert settings["plugins"]["disabled"] == ["smtp"]
    assert settings["plugins"]["bigcommerce"]["client_id"] == "from-env"
    assert settings["database"]["url"] == "postgresql://postgres@127.0.0.1/test"


def test_secrets_may_be_given_as_environment_references(tmp_path):
    extra = tmp_path / "site.toml"
    extra.write_text('[plugins.bigcommerce]\nclient_secret = { env = "BC_SECRET" }\n')
    settings = load_settings({"HOST_CONFIG": str(extra), "BC_SECRET": "s3cr3t"})
    assert settings["plugins"]["bigcommerce"]["client_secret"] == "s3cr3t"
    with pytest.raises(ConfigError, match="BC_SECRET"):
        load_settings({"HOST_CONFIG": str(extra)})


def test_an_unreadable_or_broken_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        load_settings({"HOST_CONFIG": str(tmp_path / "missing.toml")})
    broken = tmp_path / "broken.toml"
    broken.write_text("[sync\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"HOST_CONFIG": str(broken)})


def test_the_app_reads_its_database_url_from_the_environment(monkeypatch, make_app, tmp_path):
    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    app = make_app(DATABASE={})  # merged over the file defaults: the env var decides
    assert app.extensions["host.db"].url == url

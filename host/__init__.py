"""Connector Host: keeps a commerce store and a marketing platform in step, through plugins."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from host import config as host_config
from host import crypto, db, public_url
from host.plugins import PluginHost

__all__ = ["create_app"]


def _instance_secret_key(instance_path: str) -> str:
    key_file = Path(instance_path) / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the host: configuration, storage, encryption, plugins, web routes and commands."""
    settings = host_config.load_settings()
    instance_path = (test_config or {}).get("INSTANCE_PATH") or settings.get("instance_path")
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    for section, values in settings.items():
        app.config[section.upper()] = values  # instance_path too: HOST_INSTANCE_PATH
    if test_config:
        for key, value in test_config.items():
            if isinstance(value, dict) and isinstance(app.config.get(key), dict):
                app.config[key] = host_config.deep_merge(app.config[key], value)
            else:
                app.config[key] = value
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.setdefault("PLUGIN_MODULES", [])  # extra plugin objects, for tests and embedding

    app.secret_key = app.config["HOST"].get("secret_key") or _instance_secret_key(app.instance_path)
    crypto.configure(crypto.load_or_create_key(app.config["HOST"].get("encryption_key", ""), app.instance_path))
    db.init_app(app)
    logging.getLogger("host").setLevel(app.config["HOST"].get("log_level", "INFO"))

    plugins = PluginHost(app.config["PLUGINS"], extra_plugins=app.config["PLUGIN_MODULES"])
    app.extensions["host.plugins"] = plugins
    logging.getLogger("host").info("plugins loaded: %s", ", ".join(plugins.plugin_names()) or "none")
    public_url.log_at_startup(app)

    from host import cli, scheduler
    from host.web import init_app as init_web

    init_web(app, plugins)
    cli.init_app(app, plugins)
    scheduler.init_app(app)  # only where it should run: see host.scheduler
    return app

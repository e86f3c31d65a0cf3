"""Web layer: the host's own blueprints plus the ones plugins register."""

from __future__ import annotations

from flask import Flask

from host.plugins import PluginHost


def init_app(app: Flask, plugins: PluginHost) -> None:
    from host.web import health

    app.register_blueprint(health.blueprint)
    for blueprint in plugins.blueprints:
        app.register_blueprint(blueprint)

"""Web layer: the host's own blueprints plus the ones plugins register."""

from __future__ import annotations

from flask import Flask

from host.plugins import PluginHost


def init_app(app: Flask, plugins: PluginHost) -> None:
    from host.web import health, login_link, security
    from host.web.merchant import blueprint as settings_blueprint

    security.init_app(app)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(settings_blueprint)
    app.register_blueprint(login_link.blueprint)
    for blueprint in plugins.blueprints:
        app.register_blueprint(blueprint)
    security.exempt_signed_blueprints(plugins)

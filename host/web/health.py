"""``GET /healthz``: is the database reachable, is the scheduler alive, which plugins are loaded,
is the public URL one webhooks can reach (https on port 443; ``host.public_url``)?

A public URL problem is reported under ``public_url`` but does not make the host unhealthy
(the answer stays 200): the periodic sync works without webhooks, and restarting would not help."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from host import public_url
from host.db import get_db

blueprint = Blueprint("health", __name__)


def scheduler_status() -> dict:
    scheduler = current_app.extensions.get("host.scheduler")
    if scheduler is None:
        return {"status": "not running in this process"}
    return scheduler.status()


@blueprint.get("/healthz")
def healthz():
    try:
        with get_db().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        database = {"status": "ok", "dialect": get_db().engine.dialect.name}
    except SQLAlchemyError as error:
        database = {"status": "error", "error": error.__class__.__name__}
    healthy = database["status"] == "ok"
    body = {
        "status": "ok" if healthy else "error",
        "database": database,
        "scheduler": scheduler_status(),
        "plugins": current_app.extensions["host.plugins"].plugin_names(),
        "public_url": public_url.check().describe(),
    }
    return jsonify(body), 200 if healthy else 503

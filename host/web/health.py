"""``GET /healthz``: is the database reachable, is the scheduler alive, which plugins are loaded,
is the public URL one webhooks can reach (https on port 443; ``host.public_url``)? With the
``celery`` executor: how many sync tasks wait in the queue and for how long the oldest has
(a broker out of reach makes the host unhealthy: no sync work can be handed out).

A public URL problem is reported under ``public_url`` but does not make the host unhealthy
(the answer stays 200): the periodic sync works without webhooks, and restarting would not help."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from host import public_url
from host.db import get_db
from host.executors import executor_status

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
    executor = executor_status(current_app)
    healthy = database["status"] == "ok" and executor.get("status", "ok") == "ok"
    body = {
        "status": "ok" if healthy else "error",
        "database": database,
        "scheduler": scheduler_status(),
        "executor": executor,
        "plugins": current_app.extensions["host.plugins"].plugin_names(),
        "public_url": public_url.check().describe(),
    }
    return jsonify(body), 200 if healthy else 503

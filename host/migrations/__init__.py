"""Alembic migrations, run through ``flask --app host db upgrade`` (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from host.db import get_db

SCRIPT_LOCATION = str(Path(__file__).resolve().parent)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["engine"] = get_db().engine
    return config


def upgrade(revision: str = "head") -> None:
    command.upgrade(alembic_config(), revision)


def current_revision() -> str | None:
    with get_db().engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()

"""`flask --app host db upgrade` builds the whole schema from empty, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from host.db import get_db
from host.migrations.env_filters import include_object
from host.models import Base


def test_upgrade_from_empty_creates_exactly_the_models_schema(make_app):
    app = make_app()
    engine = app.extensions["host.db"].engine
    assert not inspect(engine).get_table_names()

    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "database at 0007" in result.output

    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    with app.app_context(), get_db().engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": include_object, "compare_type": True}
        )
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_is_idempotent(make_app):
    app = make_app()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    second = runner.invoke(args=["db", "upgrade"])
    assert second.exit_code == 0
    assert runner.invoke(args=["db", "current"]).output.strip() == "0007"

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
    assert "database at 0010" in result.output

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
    assert runner.invoke(args=["db", "current"]).output.strip() == "0010"


def test_subscriber_contacts_synced_before_0007_do_not_send_their_consent_again(make_app):
    """Their consent went out with their first accepted write (the rule before 0007): the upgrade
    marks it accepted, so the next change of such a contact does not send it a second time."""
    from sqlalchemy import text

    app = make_app()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "--revision", "0006"]).exit_code == 0
    with app.app_context(), get_db().engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO connections (id, source, source_account, store_name, store_url, source_data, "
            "destination_data, sync_enabled, installed_at) "
            "VALUES (1, 'bigcommerce', 'store-1', 'Store', 'https://store.example', '{}', '{}', true, "
            "CURRENT_TIMESTAMP)"))
        for n, (kind, state) in enumerate([("subscriber_contact", "synced"), ("subscriber_contact", "failed"),
                                           ("subscriber_contact", "excluded"), ("customer_contact", "synced")]):
            connection.execute(text(
                "INSERT INTO ledger (id, connection_id, kind, source_id, state, attempts, first_seen_at, updated_at) "
                f"VALUES ({n + 1}, 1, '{kind}', 'p{n}@example.com', '{state}', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with app.app_context(), get_db().engine.connect() as connection:
        consents = connection.execute(text("SELECT consent FROM ledger ORDER BY id")).scalars().all()
    assert consents == ["legacy", None, None, None]

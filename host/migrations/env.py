"""Alembic environment: the engine comes from the running app (see host.migrations)."""

from alembic import context
from sqlalchemy.types import TypeDecorator

from host.models import Base

# Tables owned by libraries (APScheduler's job store) are not ours to migrate.
OWN_TABLES = set(Base.metadata.tables)


def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table":
        return name in OWN_TABLES
    return True


def render_item(type_, obj, autogen_context):
    """Write our TypeDecorators as the plain column types they store, so migrations need no app code."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=include_object,
        render_item=render_item,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()

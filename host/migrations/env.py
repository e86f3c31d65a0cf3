"""Alembic environment: the engine comes from the running app (see host.migrations)."""

from alembic import context
from sqlalchemy.types import TypeDecorator

from host.migrations.env_filters import include_object
from host.models import Base


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

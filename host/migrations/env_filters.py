"""What our migrations manage: our own tables, not those of libraries (APScheduler's job store)."""

from host.models import Base


def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table":
        return name in Base.metadata.tables
    return True

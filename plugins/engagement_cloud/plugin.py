"""The engagement_cloud plugin: the Engagement Cloud (dotdigital) destination and its mapper."""

from __future__ import annotations

from host.hookspecs import hookimpl

from .destination import EngagementCloud
from .mapper import EngagementCloudMapper

destination = EngagementCloud()


@hookimpl
def register_destinations(register):
    register(destination)


@hookimpl
def register_mappers(register):
    register(EngagementCloudMapper())


@hookimpl
def before_sync_cycle(connection, run):
    """Each cycle asks once whether Insight features are enabled, and closes crashed imports."""
    if connection.destination == destination.name:
        destination.start_cycle(connection)

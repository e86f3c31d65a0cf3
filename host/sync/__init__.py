"""The sync engine: one cycle = streams → mapper → destination → ledger → events.

Public API:
- ``run_cycle(connection_id, trigger=..., full=False, progress=None)``: one cycle now, in
  this thread; answers the ``SyncRun`` row, or None when it cannot start.
- ``run_fast_lane(connection_id)`` and ``connections_with_events()``: the webhook fast lane.
- ``request_sync`` lives in ``host.scheduler`` (it needs the scheduler).

Modules: ``context`` (lease, run, settings of one cycle), ``cycle`` (streams, retries,
enrolments), ``pages`` (one page: profiles, events, outbox), ``phases`` (contacts, then queued
orders, then cursors), ``profiles`` (contact facts and events), ``contacts`` and
``collection_writes`` (what is sent), ``ledger``, ``cursors``, ``lock``, ``runs``, ``fast_lane``.
"""

from host.sync.cycle import run_cycle
from host.sync.fast_lane import connections_with_events, purge_processed_events, run_fast_lane

__all__ = ["connections_with_events", "purge_processed_events", "run_cycle", "run_fast_lane"]

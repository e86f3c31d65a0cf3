"""The phases after the streams were read: contacts, then queued records, then cursors.

- Contacts: every dirty profile (its facts changed, or the contact settings did) is mapped
  and sent only if its payload changed, a batch of profiles at a time, through one writer per
  book for the whole phase (``ContactSender``): the destination sends as few, as large writes
  as it can and works on one while the next batch is built; a profile is clean once every one
  of its contacts was answered. Then the contacts that failed earlier are retried. A backfill
  therefore sends each contact once per book, with the addresses of its latest order already
  known.
- Queued records (orders) follow, when their contacts exist at the destination; so do the
  removals of orders archived since they were sent (``host.sync.removals``).
- A stream's cursor moves to what was read only once everything it fed was accepted:
  customers, subscribers and guests after the contacts; orders after the contacts and the
  orders. Profiles stay dirty and the outbox keeps its rows until then, so a crash or an
  outage loses nothing; the next run goes on reading from where the last read got
  (``host.sync.reads``).
- A cycle cut into slices stops at a batch boundary once its slice is over: the rest stays
  dirty or queued for the next slice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update

from host.models import ContactProfile
from host.sync.collection_writes import QUEUED_KINDS, flush_outbox
from host.sync.contacts import CONTACT_AREA, ContactSender, settings_fingerprint, sync_contacts
from host.sync.context import writing
from host.sync.cursors import CONTACT_SETTINGS, cursor_row, later
from host.sync.ledger import CUSTOMER_CONTACT, SUBSCRIBER_CONTACT
from host.sync.mapping_changes import forget_unmapped
from host.sync.pages import PROFILE_KINDS
from host.sync.profiles import load_profiles
from host.sync.reads import ReadState

if TYPE_CHECKING:
    from host.sync.context import SyncContext

CONTACT_BATCH = 500


def waits_for_contacts(stream) -> bool:
    """Streams whose records are kept and sent after the contacts phase."""
    return stream.kind in PROFILE_KINDS or stream.kind in QUEUED_KINDS


def send_everything(context: SyncContext) -> None:
    """Contacts, queued records, then the cursors they allow to move."""
    contacts_done = send_contacts(context)
    queued_done = send_queued(context) if contacts_done else set()
    promote_cursors(context, contacts_done, queued_done)


def send_contacts(context: SyncContext) -> bool:
    """Send the dirty profiles' contacts; answer whether none is left waiting."""
    if CONTACT_AREA in context.paused:
        return False
    context.run.phase("sending contacts")
    context.run.stream(CONTACT_AREA)
    with writing(context, CONTACT_AREA):
        _mark_all_dirty_if_settings_changed(context)
        sender = ContactSender(context, settle_profiles=True)
        last_id = 0
        while batch := _dirty_batch(context, last_id):
            context.writing = CONTACT_AREA
            last_id = batch[-1].id
            sender.send(batch)  # answers of earlier batches are applied as they arrive
            del batch
            context.progressed = True
            context.run.all_done()  # contacts count under the streams that described them
            if context.should_stop() or context.slice_over():  # the rest stays dirty for the next run
                sender.finish()
                context.run.all_done()
                return False
        sender.finish()  # the profiles whose answers are in are clean
        context.run.all_done()
        _retry_failed_contacts(context)
        forget_unmapped(context)  # every contact was checked: the unmapped fields were cleared
        context.commit()
        context.run.tally.contacts_settled()
        context.run.all_done()
        return True
    return False


def _mark_all_dirty_if_settings_changed(context: SyncContext) -> None:
    """A new mapping or book: every contact is checked again (only changed payloads are sent)."""
    marker = cursor_row(context.session, context.connection.id, CONTACT_SETTINGS)
    fingerprint = settings_fingerprint(context)
    if marker.value != fingerprint:
        context.session.execute(
            update(ContactProfile)
            .where(ContactProfile.connection_id == context.connection.id)
            .values(dirty=True)
        )
        marker.value = fingerprint
        context.commit()


def _dirty_batch(context: SyncContext, after_id: int) -> list[ContactProfile]:
    return list(
        context.session.scalars(
            select(ContactProfile)
            .where(
                ContactProfile.connection_id == context.connection.id,
                ContactProfile.dirty.is_(True),
                ContactProfile.id > after_id,
            )
            .order_by(ContactProfile.id)
            .limit(CONTACT_BATCH)
            .execution_options(populate_existing=True)  # facts and version of one read
        )
    )


def _retry_failed_contacts(context: SyncContext) -> None:
    emails = {
        *context.ledger.retry_ids(CUSTOMER_CONTACT),
        *context.ledger.retry_ids(SUBSCRIBER_CONTACT),
    }
    if emails:
        profiles = load_profiles(context.session, context.connection.id, emails)
        context.retrying, context.writing = True, CONTACT_AREA
        try:
            sync_contacts(context, list(profiles.values()), CONTACT_AREA)
        finally:
            context.retrying = False


def send_queued(context: SyncContext) -> set[str]:
    """Send the outbox of each queued stream; answer the streams whose outbox is now empty."""
    done: set[str] = set()
    for stream in context.source.streams():
        if stream.kind not in QUEUED_KINDS or stream.name in context.paused:
            continue
        context.run.phase(f"sending {stream.name}")
        if write_outbox(context, stream):
            done.add(stream.name)
    return done


def write_outbox(context: SyncContext, stream) -> bool:
    """Send a stream's waiting writes and removals; answer whether all were accepted.

    A configuration problem pauses the stream's area (its outbox keeps waiting for the next
    run); a transient failure is recorded on the run and retried next cycle."""
    with writing(context, stream.name):
        return flush_outbox(context, stream)
    return False


def promote_cursors(context: SyncContext, contacts_done: bool, queued_done: set[str]) -> None:
    """Everything the reads fed was accepted: each stream's cursor moves to where its read got
    (``host.sync.reads``). A read kept "complete" stays so: the later slices of this cycle do
    not read it again, and the next cycle begins a new one from there."""
    if not contacts_done:
        return
    for stream in context.source.streams():
        if stream.kind in QUEUED_KINDS and stream.name not in queued_done:
            continue
        row = cursor_row(context.session, context.connection.id, stream.name)
        state = ReadState.of(row)
        if state is not None:
            row.value = later(row.value, state.position)
    context.commit()

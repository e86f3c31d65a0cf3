"""Two lanes, one profile: the cycle and the fast lane may send the same contact at once.

Every flush that changes a contact profile's row through the ORM raises its ``version`` by one,
in the database's own arithmetic and in the same transaction (``version = version + 1``, so two
writers never hand out the same number). A lane
remembers the version of each profile it read to send; once the destination answered,
``settle_sent`` clears ``dirty`` only where the version is still that one. Where the other lane
changed the profile meanwhile, the write just made may have landed after the other lane's newer
one: the profile stays dirty, its version moves on (so the other lane, settling after this one,
sees the conflict too) and the contact's ledger hashes are cleared, so the next lane to look
sends the profile's newest facts even if the ledger already holds their digest. That next look
comes at once: a conflict queues events in the webhook inbox — for the profile's customer and
subscriber records (read afresh from the store: a cycle's page read before the other lane's
change may have been applied after it) and a ``_contacts`` event — and the fast lane sends the
profile again at its next look at the inbox (even while a backfill runs; a cycle's contacts
pass does not come back to profiles it already passed). A change is therefore never
left clean-but-stale; the worst a race costs is one more send.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import PASSIVE_NO_INITIALIZE, get_history

from host.models import ContactProfile, LedgerEntry
from host.sync.ledger import CUSTOMER_CONTACT, SUBSCRIBER_CONTACT

CHUNK = 500
RESEND_STREAM = "_contacts"  # inbox events that only ask the fast lane to send a profile again
IGNORED = frozenset({"version", "updated_at", "run_reads"})  # run_reads: counting only


CHANGED = "host.sync.versions:changed"  # ``Session.info``: the profiles the flush under way changes


@event.listens_for(Session, "before_flush")
def _count_profile_changes(session: Session, _context, _instances) -> None:
    """Note the profiles this flush changes; ``_raise_versions`` counts them once it ran."""
    changed = []
    for instance in session.dirty:
        if not isinstance(instance, ContactProfile) or instance in session.new:
            continue
        # Only attributes set since the load are in committed_state: look at those alone (a
        # backfill flushes hundreds of profiles a page, each with a dozen attributes).
        if any(
            key not in IGNORED and get_history(instance, key, PASSIVE_NO_INITIALIZE).has_changes()
            for key in inspect(instance).committed_state
        ):
            changed.append(instance)
    if changed:
        session.info.setdefault(CHANGED, []).extend(changed)


@event.listens_for(Session, "after_flush_postexec")
def _raise_versions(session: Session, _context) -> None:
    """A profile written through the ORM counts one change, in the database's own arithmetic,
    in the flush's transaction: one UPDATE for all of them, not one ``version = version + 1``
    in each row's own UPDATE (an expression keeps the ORM from batching a page's UPDATEs).
    The row is locked by this transaction's write already, so no other writer comes between."""
    changed = session.info.pop(CHANGED, None)
    if not changed:
        return
    ids = sorted({profile.id for profile in changed})
    for start in range(0, len(ids), CHUNK):
        session.execute(
            update(ContactProfile)
            .where(ContactProfile.id.in_(ids[start : start + CHUNK]))
            .values(version=ContactProfile.version + 1)
            .execution_options(synchronize_session=False)
        )
    for profile in changed:
        session.expire(profile, ["version"])  # read afresh when asked (``read_versions``)


@event.listens_for(Session, "after_rollback")
def _forget_changes(session: Session) -> None:
    session.info.pop(CHANGED, None)


def read_versions(profiles: Iterable[ContactProfile]) -> dict[int, int]:
    """The versions of profiles loaded to be sent (call before sending, after loading them
    with ``populate_existing`` so the facts and the version come from the same read)."""
    return {profile.id: int(profile.version or 0) for profile in profiles if profile.id is not None}


def settle_sent(session: Session, connection_id: int, versions: dict[int, int]) -> set[int]:
    """The contacts of these profiles were sent as they were at ``versions``: clear ``dirty``
    where nothing changed since; answer the ids of the profiles changed meanwhile (left dirty,
    version moved on, ledger hashes of their contacts cleared). In the caller's transaction."""
    conflicts: set[int] = set()
    by_version: dict[int, list[int]] = {}  # few distinct versions: plain IN lists, no CASE
    for profile_id, version in versions.items():
        by_version.setdefault(version, []).append(profile_id)
    for version, all_ids in sorted(by_version.items()):
        all_ids.sort()
        for start in range(0, len(all_ids), CHUNK):
            chunk = all_ids[start : start + CHUNK]
            session.execute(
                update(ContactProfile)
                .where(ContactProfile.id.in_(chunk), ContactProfile.version == version)
                .values(dirty=False)
                .execution_options(synchronize_session=False)
            )
            changed = session.execute(
                select(
                    ContactProfile.id,
                    ContactProfile.email,
                    ContactProfile.is_guest,
                    ContactProfile.customer,
                    ContactProfile.subscriber,
                    ContactProfile.sources,
                ).where(ContactProfile.id.in_(chunk), ContactProfile.version != version)
            ).all()
            if changed:
                conflicts.update(row.id for row in changed)
                _changed_meanwhile(session, connection_id, changed)
    for profile in list(session.identity_map.values()):  # their flags were set in SQL
        if isinstance(profile, ContactProfile) and profile.id in versions:
            session.expire(profile, ["dirty", "version"])
    return conflicts


def _changed_meanwhile(session: Session, connection_id: int, changed) -> None:
    """Profiles the other lane changed while this one sent them: dirty, version moved on,
    ledger hashes cleared, and the fast lane asked to send them again."""
    session.execute(
        update(ContactProfile)
        .where(ContactProfile.id.in_([row.id for row in changed]))
        .values(dirty=True, version=ContactProfile.version + 1)
        .execution_options(synchronize_session=False)
    )
    emails = [row.email for row in changed]
    session.execute(
        update(LedgerEntry)
        .where(
            LedgerEntry.connection_id == connection_id,
            LedgerEntry.kind.in_((CUSTOMER_CONTACT, SUBSCRIBER_CONTACT)),
            LedgerEntry.source_id.in_(emails),
        )
        .values(payload_hash=None)
        .execution_options(synchronize_session="fetch")
    )
    ask_resend(session, connection_id, emails, _store_records(changed))


def _store_records(rows) -> list[tuple[str, str]]:
    """(stream, record id) of the store records behind these profiles' customer and subscriber
    facts (``sources`` names the stream each came from; a guest has no record of its own)."""
    found = []
    for row in rows:
        sources = row.sources or {}
        if row.customer and not row.is_guest and sources.get("customer") and row.customer.get("id"):
            found.append((sources["customer"], str(row.customer["id"])))
        if row.subscriber and sources.get("subscriber") and row.subscriber.get("id"):
            found.append((sources["subscriber"], str(row.subscriber["id"])))
    return found


def ask_resend(
    session: Session, connection_id: int, emails: Iterable[str], records: Iterable[tuple[str, str]] = ()
) -> None:
    """Queue inbox events for the fast lane's next look: ``_contacts`` events send these
    profiles again, and events for their store ``records`` read those afresh first (a cycle's
    page read before the other lane's change may have been applied after it)."""
    from host.inbox import upsert_events

    wanted = [(RESEND_STREAM, email) for email in sorted(set(emails))] + sorted(set(records))
    rows = [
        {
            "connection_id": connection_id,
            "dedupe_key": f"resend:{stream}:{record_id}"[:255],
            "stream": stream,
            "record_id": record_id,
            "payload": {},
        }
        for stream, record_id in wanted
    ]
    if rows:
        upsert_events(session.connection(), rows)

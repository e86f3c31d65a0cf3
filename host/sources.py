"""The source contract: a commerce platform declared as streams of canonical records.

A source fills in attributes (``Stream``) rather than writing loops; the host reads streams in
their declared order, advances each cursor only after the destination accepted the records, and
calls ``read(..., ids=...)`` for the targeted syncs of the webhook fast lane.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from host.models import Connection


class Paginator(ABC):
    """Walks the pages of one listing; the source's HTTP client asks it what to fetch next."""

    @abstractmethod
    def first_page(self) -> Mapping[str, Any]:
        """Query parameters of the first page."""

    @abstractmethod
    def next_page(self, previous: Mapping[str, Any], response: Any) -> Mapping[str, Any] | None:
        """Query parameters of the page after ``response``, or None when the listing has ended."""


@dataclass(frozen=True)
class Stream:
    """One readable resource of a source."""

    name: str  # "customers"; unique within the source
    kind: str  # canonical record kind emitted: customer, subscriber, order, product
    path: str  # API path, relative to the source's base URL
    primary_key: str  # canonical field identifying a record
    cursor_field: str | None  # canonical field that orders changes; None = full reads only
    page_size: int
    paginator: Paginator | None = None
    params: Mapping[str, Any] = field(default_factory=dict)  # fixed query parameters
    cursor_overlap: timedelta = timedelta(0)  # re-read this much before the cursor
    full_refresh_every: timedelta | None = None  # changes the cursor cannot see (variants)
    # Pages come in ascending cursor order. False: a listing in another order (e.g. by id); the
    # cursor of such a stream (a profile or queued kind) moves only once it was read whole.
    ordered_by_cursor: bool = True


# What ``Source.write_unsubscribe`` answers.
WRITTEN = "written"
SUBSCRIBED_LATER = "subscribed_later"
NO_SUBSCRIBER = "no_subscriber"


@dataclass
class Page:
    """One page of canonical records, in ascending cursor order (unless the stream says not)."""

    records: list[dict[str, Any]]


class Source(ABC):
    """A commerce platform the host reads from."""

    name: ClassVar[str]  # the plugin-facing name, e.g. "bigcommerce"
    title: ClassVar[str]  # shown to merchants, e.g. "BigCommerce"
    field_labels: ClassVar[Mapping[str, str]] = {}  # overrides of host.records.CONTACT_FIELDS labels
    # Origins (CSP ``frame-ancestors`` sources, wildcards allowed) of the control panels that may
    # frame the settings pages for every store of this source; empty when none frames them.
    frame_origins: ClassVar[Sequence[str]] = ()

    @abstractmethod
    def streams(self) -> Sequence[Stream]:
        """The streams, in the order a cycle reads them."""

    @abstractmethod
    def read(
        self,
        connection: Connection,
        stream: Stream,
        *,
        since: str | None = None,
        ids: Sequence[str] | None = None,
    ) -> Iterator[Page]:
        """Pages of canonical records changed at or after ``since`` (minus the stream's overlap),
        or exactly the records with these primary keys. Raises ``host.errors`` classes on failure."""

    def user_allowed(self, connection: Connection, user_id: object) -> bool:
        """Whether a store user may still use the settings pages. A platform that can remove a
        user from the app (BigCommerce's remove_user) answers False from then on, which ends that
        user's open sessions too."""
        return True

    def control_panel_url(self, connection: Connection) -> str | None:
        """The URL of this store's own control panel (the page that frames the settings pages
        for it), from what the source saved at install; None when it has none. Its origin is
        allowed to frame the pages of this store's session, besides ``frame_origins``."""
        return None

    def currency(self, connection: Connection) -> str | None:
        """The store's own currency (ISO 4217 code), in which the lifetime order fields' amounts
        are (canonical orders carry an ``exchange_rate`` to it); None when not known."""
        return None

    # What the merchant does to give the app write access (one sentence), shown with the Store
    # tab's notice when ``can_write_unsubscribes`` answers False.
    write_access_help: ClassVar[str] = ""

    def can_write_unsubscribes(self, connection: Connection) -> bool:
        """Whether ``write_unsubscribe`` may be called for this store (e.g. the install granted
        write access to subscribers). The default: no, the sync runs one way."""
        return False

    def write_unsubscribe(self, connection: Connection, email: str, unsubscribed_at: datetime) -> str:
        """Write back an unsubscribe made at the destination at ``unsubscribed_at``: the store's
        subscriber with this email loses its marketing consent, unless the store's own subscribe
        is dated after ``unsubscribed_at`` (the later one wins: stale data never re-subscribes
        anyone, and a genuine re-subscribe is kept). Answer ``WRITTEN`` (no consent left, also
        when there was none already), ``SUBSCRIBED_LATER`` or ``NO_SUBSCRIBER``. Must be safe to
        repeat (the host may call again after a crash). Raise ``RecordError`` when the store
        refuses this one, ``ConfigurationError`` when it refuses all (a missing permission),
        ``TransientError`` for an outage."""
        raise NotImplementedError(f"{type(self).__name__} cannot write unsubscribes")

    def stream(self, name: str) -> Stream:
        for stream in self.streams():
            if stream.name == name:
                return stream
        raise KeyError(f"{self.name} has no stream named {name!r}")


# ``HttpSource`` and its parts live in ``host.http_source`` (which builds on this module); they
# are importable from here too: ``from host.sources import HttpSource, HttpStream``.
def __getattr__(name: str) -> Any:
    """The names ``host.http_source`` exports (its ``__all__``), imported on first use."""
    from host import http_source

    if name in getattr(http_source, "__all__", ()):
        return getattr(http_source, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

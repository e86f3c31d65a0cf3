"""The merchant settings pages (``/settings/...``), shown inside the store's control panel.

One blueprint, named ``settings``: the connect page, the Store tab, the Field mapping tab, the
sync status endpoint and the removal flow. Plugins add tabs of their own (``register_settings_tabs``)
whose templates extend ``settings/shell.html``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from flask import Blueprint, g, render_template, request

from host.destinations import noun_forms
from host.incidents import log_unexpected

WEB_ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)

blueprint = Blueprint(
    "settings",
    __name__,
    url_prefix="/settings",
    template_folder=str(WEB_ROOT / "templates"),
    static_folder=str(WEB_ROOT / "static"),
)


@blueprint.app_context_processor
def shell_context() -> dict:
    """What ``settings/shell.html`` needs on every tab, the plugins' tabs included."""
    from host.plugins import get_plugins
    from host.web.tabs import all_tabs

    def source_title(connection) -> str:
        source = get_plugins().sources.get(connection.source) if connection else None
        return source.title if source else (connection.source if connection else "")

    return {
        "settings_tabs": lambda connection=None: all_tabs(get_plugins(), connection),
        "merchant_connection": lambda: g.get("connection"),
        "source_title_of": source_title,
        "destination_title_of": destination_title,
        "nouns_of": destination_nouns,
        "nouns": destination_nouns(),  # the session's destination; a page may pass its own
    }


def _destination(connection=None):
    """``connection``'s destination (by default the session's), else the only one enabled, else None."""
    from host.plugins import get_plugins

    destinations = get_plugins().destinations
    connection = connection if connection is not None else g.get("connection")
    named = destinations.get(getattr(connection, "destination", None) or "")
    if named is not None:
        return named
    if len(destinations) == 1:
        return next(iter(destinations.values()))
    return None


def destination_title(connection=None) -> str | None:
    """What the pages call the marketing platform: the title of ``connection``'s destination (by
    default the session's), else of the only destination enabled; None when it cannot be told."""
    destination = _destination(connection)
    return destination.title if destination is not None else None


def destination_nouns(connection=None) -> dict[str, str]:
    """What the pages call the destination's things (``host.destinations.noun_forms``), for the
    destination ``destination_title`` names; the defaults when it cannot be told."""
    destination = _destination(connection)
    return noun_forms(destination.nouns if destination is not None else {})


@blueprint.app_template_filter("upper_first")
def upper_first(text: str) -> str:
    """``text`` with its first letter in capitals, the rest as it is: "address book" → "Address book"."""
    return text[:1].upper() + text[1:]


@blueprint.app_template_filter("indefinite")
def indefinite(noun: str) -> str:
    """``noun`` after "a" or "an", by its first letter: "an address book", "a program"."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


@blueprint.app_errorhandler(401)
def not_signed_in(error):
    """No merchant session: the pages open only from the store's control panel."""
    message = error.description or "Open the app from your store's control panel to sign in."
    return render_template("settings/error.html", title="Open the app from your control panel", message=message), 401


@blueprint.app_errorhandler(500)
def unexpected_error(error):
    """An unexpected exception: the traceback goes to the log under a reference the page names."""
    original = getattr(error, "original_exception", None) or error
    reference = log_unexpected(log, original, "%s %s failed", request.method, request.path)
    message = (
        f"This page could not be shown because of an unexpected error (reference {reference}). "
        "Try again in a moment; if this keeps happening, contact support with the reference."
    )
    return render_template("settings/error.html", title="Something went wrong", message=message), 500


@blueprint.app_template_filter("when")
def format_when(value: str | datetime | None) -> str:
    """A moment as the merchant reads it: "12 Mar 2025, 14:05 UTC"."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")


from host.web.merchant import attention, connect, field_mapping, store  # noqa: E402,F401  (routes)

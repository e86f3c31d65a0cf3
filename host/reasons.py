"""Why a record or an enrolment needs attention, in a merchant's words.

The ledger and the enrolment rows keep the raw reason: the destination's own answer (an error
code and its description) or the host's. What the Store tab shows is an ``Explanation``: one
plain sentence, what to do about it, and the raw code under a details toggle. The destination
explains its own codes (``Destination.explain``), since only it knows them; the host explains
its own reasons (a store record that is not valid, no answer at all) and otherwise shows the
reason as it was written. No platform's words live here.

Areas group the list the way the merchant thinks of it: the customers book, the subscribers
book, orders, the catalog and enrolments. A ledger kind belongs to an area through the
canonical kind of the source stream that wrote it (``Stream.kind``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from host.sync.ledger import CUSTOMER_CONTACT, SUBSCRIBER_CONTACT

if TYPE_CHECKING:
    from host.destinations import Destination
    from host.sources import Stream


@dataclass(frozen=True)
class Explanation:
    """A refusal as the merchant reads it."""

    sentence: str  # what happened, in one plain sentence
    fix: str | None = None  # what to do about it
    code: str | None = None  # the raw code, shown under a details toggle with the full reason


AREAS: dict[str, str] = {
    "customers": "Customers book",
    "subscribers": "Subscribers book",
    "orders": "Orders",
    "catalog": "Catalog",
    "enrolments": "Enrolments",
}
AREA_OF_CANONICAL_KIND = {"customer": "customers", "subscriber": "subscribers", "order": "orders",
                          "product": "catalog"}
AREA_OF_LEDGER_KIND = {CUSTOMER_CONTACT: "customers", SUBSCRIBER_CONTACT: "subscribers"}
OTHER = "other"


def area_titles(nouns: Mapping[str, str] | None = None) -> dict[str, str]:
    """``AREAS`` in the destination's words (``host.destinations.noun_forms``): the two books are
    called by what the destination calls an address book ("Customers list")."""
    if nouns is None:
        return dict(AREAS)
    book = nouns["address_book_short"]
    return {**AREAS, "customers": f"Customers {book}", "subscribers": f"Subscribers {book}"}


# A ledger kind no declared stream explains (a source since disabled): its name's first clue.
AREA_CLUES = (("subscriber", "subscribers"), ("customer", "customers"), ("guest", "customers"),
              ("order", "orders"), ("product", "catalog"), ("catalog", "catalog"))


def ledger_areas(streams: Iterable[Stream]) -> dict[str, str]:
    """Ledger kind → area: the two contact kinds, and each stream by its canonical kind."""
    areas = dict(AREA_OF_LEDGER_KIND)
    for stream in streams:
        areas.setdefault(stream.name, AREA_OF_CANONICAL_KIND.get(stream.kind, OTHER))
    return areas


def area_of(kind: str, areas: Mapping[str, str]) -> str:
    """The area of a ledger kind: as its stream declares, else as its name suggests."""
    if kind in areas:
        return areas[kind]
    lowered = kind.lower()
    return next((area for clue, area in AREA_CLUES if clue in lowered), OTHER)


# ---------------------------------------------------------------------- the host's own reasons
_INVALID = re.compile(r"^invalid (?P<kind>[a-z_ ]+) record: (?P<errors>.*)$", re.DOTALL)
# marshmallow's messages (host.records validation) as the end of a sentence about one field
FIELD_PROBLEMS = {
    "Missing data for required field.": "is missing",
    "Field may not be null.": "is missing",
    "Not a valid email address.": "is not a valid email address",
    "Not a valid datetime.": "is not a valid date and time",
    "Not a valid date.": "is not a valid date",
    "Not a valid number.": "is not a number",
    "Not a valid integer.": "is not a whole number",
    "Not a valid boolean.": "is not yes or no",
    "Not a valid string.": "is not text",
    "Not a valid list.": "is not a list",
}
FIELD_WORDS = {"date_created": "creation date", "date_modified": "last change date", "id": "id"}


def _field_problems(errors: Any, prefix: str = "") -> list[str]:
    """``{"email": ["Not a valid email address."]}`` → ``["email is not a valid email address"]``."""
    if isinstance(errors, str):
        return [f"{prefix} {FIELD_PROBLEMS.get(errors, errors.rstrip('.').lower())}".strip()]
    if isinstance(errors, list):
        return [problem for item in errors for problem in _field_problems(item, prefix)]
    if isinstance(errors, dict):
        problems = []
        for name, inner in errors.items():
            word = FIELD_WORDS.get(str(name), str(name).replace("_", " "))
            if isinstance(name, int) or str(name).isdigit():
                word = f"item {int(name) + 1}"
            problems.extend(_field_problems(inner, f"{prefix} {word}".strip() if prefix else word))
        return problems
    return []


def _invalid_record(kind: str, errors_text: str) -> Explanation:
    what = kind.replace("_", " ")
    try:
        problems = _field_problems(ast.literal_eval(errors_text))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        problems = []
    detail = f": {'; '.join(problems)}" if problems else ""
    article = "an" if what[:1] in "aeiou" else "a"
    return Explanation(
        sentence=f"The store sent {article} {what} record that is incomplete or not valid{detail}.",
        fix="Correct it in your store: it is sent again as soon as it changes (or press Retry).",
        code=f"invalid {kind} record",
    )


NO_ANSWER = ("no answer for this record", "refused by the destination")


def host_explanation(reason: str, destination_title: str) -> Explanation | None:
    """The host's own reasons in plain words; None for any other reason."""
    found = _INVALID.match(reason)
    if found:
        return _invalid_record(found["kind"].strip(), found["errors"])
    if reason in NO_ANSWER:
        return Explanation(
            sentence=f"{destination_title} gave no answer about this record.",
            fix="Press Retry: it is sent again at the next sync.",
            code=reason,
        )
    return None


def explain(reason: str | None, *, area: str | None, destination: Destination | None) -> Explanation:
    """What the Store tab says about a stored reason: the host's own words for its reasons, the
    destination's for its codes, else the reason as it was written."""
    title = destination.title if destination is not None else "The destination"
    if not reason:
        return Explanation(sentence=f"{title} refused this without saying why.",
                           fix="Press Retry; it is sent again at the next sync.")
    explained = host_explanation(reason, title)
    if explained is None and destination is not None:
        explained = destination.explain(reason, area=area)
    return explained or Explanation(sentence=reason)

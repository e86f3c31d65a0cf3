"""Shared list machinery for v3 collections: filters on the compact tables, paging, cursors.

Choices where the reference says UNCONFIRMED (modes, ``modes.py``):
- the largest ``limit`` a listing serves is the ``max_page_size`` mode (250 by default, the
  references' reading). Above it the ``over_limit`` mode decides: ``refused`` answers 413 with
  the family's error body (recorded for v2; v2 bodies carry ``details.max_limit``), ``capped``
  serves ``max_page_size`` records (v3 ``meta.pagination.per_page`` and the links say so; a v2
  page simply holds fewer rows). Every listing reads its ``limit`` through ``paging``;
- ``:min``/``:max`` date filters are inclusive (>=, <=), as the common-query-params page says;
- the default order of v3 lists without ``sort`` is id ascending.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from urllib.parse import urlencode

from flask import request

from .context import emulator
from .formats import parse_date
from .responses import pagination_meta
from .table import LazyTable

MAX_LIMIT = 250
DEFAULT_LIMIT = 50


class BadRequest(ValueError):
    """A malformed parameter: answered 422 (v3) or 400 (v2) with the field named."""

    def __init__(self, field: str, message: str = "is invalid") -> None:
        super().__init__(f"{field} {message}")
        self.field = field


class LimitTooLarge(ValueError):
    """A ``limit`` above the served maximum, in the ``refused`` reading: answered 413."""

    def __init__(self, limit: int, max_limit: int = MAX_LIMIT) -> None:
        super().__init__(f"limit {limit} exceeds {max_limit}")
        self.limit = limit
        self.max_limit = max_limit


def paging() -> tuple[int, int]:
    try:
        page = int(request.args.get("page") or 1)
        limit = int(request.args.get("limit") or DEFAULT_LIMIT)
    except ValueError as error:
        raise BadRequest("page/limit", "must be integers") from error
    if page < 1 or limit < 1:
        raise BadRequest("page/limit", "must be positive")
    modes = emulator().modes
    if limit > modes.max_page_size:
        if modes.over_limit == "refused":
            raise LimitTooLarge(limit, modes.max_page_size)
        limit = modes.max_page_size  # "capped": served at the maximum, as meta then says
    return page, limit


def int_list(name: str) -> set[int] | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        return {int(part) for part in raw.split(",") if part.strip()}
    except ValueError as error:
        raise BadRequest(name, "must be a comma-separated list of integers") from error


def int_arg(name: str) -> int | None:
    """A whole-number query parameter; None when absent or blank."""
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError as error:
        raise BadRequest(name, "must be an integer") from error


def date_arg(name: str) -> int | None:
    """A v2 date query parameter (RFC 2822 or ISO 8601) as epoch seconds; None when absent."""
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return parse_date(raw)
    except ValueError as error:
        raise BadRequest(name, "must be an RFC-2822 or ISO-8601 date") from error


def bool_arg(name: str) -> bool | None:
    """A ``true``/``false`` (or ``1``/``0``) query parameter; None when absent."""
    raw = request.args.get(name)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false", "1", "0"):
        raise BadRequest(name, "must be a boolean")
    return raw.lower() in ("true", "1")


def text_list(name: str) -> set[str] | None:
    raw = request.args.get(name)
    return None if raw is None else {part.strip().lower() for part in raw.split(",") if part.strip()}


def date_range(field: str, date_only_means_now: bool = False) -> tuple[int | None, int | None]:
    """``field``, ``field:min``, ``field:max`` as an inclusive epoch range."""
    low = high = None
    try:
        if request.args.get(field):
            low = high = parse_date(request.args[field], date_only_means_now)
        if request.args.get(f"{field}:min"):
            low = parse_date(request.args[f"{field}:min"], date_only_means_now)
        if request.args.get(f"{field}:max"):
            high = parse_date(request.args[f"{field}:max"], date_only_means_now)
    except ValueError as error:
        raise BadRequest(field, "is not a valid date") from error
    return low, high


def select(table: LazyTable, key: str, descending: bool, ranges: dict[str, tuple[int | None, int | None]],
           ids: set[int] | None = None, keep: Callable[[dict], bool] | None = None,
           ordered: Sequence[int] | None = None, view: str = "all",
           member: Callable[[int], bool] | None = None) -> Sequence[int]:
    """Ids in the requested order that pass every filter, from the table's indexes: a range on
    the sort key is a bisection, a range on another key of an id-ordered list a per-block count
    (``index.IdBlocks``); only ``keep`` (per-record checks) walks the records.
    ``view``/``member`` name and define the subset listed (default: every record)."""
    rest = {name: r for name, r in ranges.items() if r != (None, None)}
    if ordered is not None:  # a computed order (last name, price...): walked as it is
        seq = ordered
        if ids is not None:
            seq = _in_order(table, {i for i in ids if table.exists(i)}, key, descending, seq)
        if key in rest and not isinstance(seq, list):
            seq = table.narrow(seq, key, descending, *rest.pop(key))
    elif ids is not None:
        wanted = {i for i in ids if table.exists(i) and (member is None or member(i))}
        seq = _in_order(table, wanted, key, descending, ())
    elif key in rest:
        seq = table.index(key, descending, view, member).range(*rest.pop(key))
    elif key == "id" and len(rest) == 1:
        (name, (low, high)), = rest.items()
        seq = table.id_blocks(name, view, member).range(low, high, descending)
        rest = {}
    else:
        seq = table.index(key, descending, view, member).range(None, None)
    if rest:
        seq = [i for i in seq if all(table.in_range(name, i, *r) for name, r in rest.items())]
    if keep is not None:
        seq = [i for i in seq if keep(table.get(i))]
    return seq


def _in_order(table: LazyTable, wanted: set[int], key: str, descending: bool, seq: Sequence[int]) -> list[int]:
    """A few wanted ids in the order of ``seq``, without walking all of it."""
    if key == "id":
        return sorted(wanted, reverse=descending)
    values = table.key_array(key)
    if values is None:  # a computed order (e.g. last name): walk it
        return [i for i in seq if i in wanted]
    if descending:
        return sorted(wanted, key=lambda i: (-values[i], i))
    return sorted(wanted, key=lambda i: (values[i], i))


def page_of(seq: Sequence[int], page: int, limit: int) -> Sequence[int]:
    start = (page - 1) * limit
    return seq[start:start + limit]


def offset_meta(total: int, count: int, page: int, limit: int) -> dict:
    return {"pagination": pagination_meta(total, count, page, limit)}


def encode_cursor(record_id: int) -> str:
    return base64.b64encode(json.dumps({"id": record_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(json.loads(base64.b64decode(padded))["id"])
    except (ValueError, KeyError, TypeError) as error:
        raise BadRequest("cursor", "is not a valid cursor") from error


def cursor_page(seq: Sequence[int], limit: int) -> tuple[Sequence[int], bool, bool]:
    """The page after ``after=`` or before ``before=``; returns (ids, has_previous, has_next)."""
    after, before = request.args.get("after"), request.args.get("before")
    if after and before:
        raise BadRequest("after/before", "cannot be combined")
    if after:
        start = _position(seq, decode_cursor(after)) + 1
        chunk = seq[start:start + limit]
        return chunk, start > 0, start + limit < len(seq)
    end = _position(seq, decode_cursor(before))
    start = max(0, end - limit)
    return seq[start:end], start > 0, True


def _position(seq: Sequence[int], record_id: int) -> int:
    try:
        return seq.index(record_id)
    except ValueError as error:
        raise BadRequest("cursor", "points at a record that no longer matches") from error


def cursor_meta(chunk: Sequence[int], limit: int, has_previous: bool, has_next: bool) -> dict:
    others = [(k, v) for k, v in request.args.items(multi=True) if k not in ("page", "limit", "after", "before")]
    start = encode_cursor(chunk[0]) if chunk else ""
    end = encode_cursor(chunk[-1]) if chunk else ""
    links = {}
    if has_previous and start:
        links["previous"] = "?" + urlencode([*others, ("before", start), ("limit", limit)])
    links["current"] = "?" + urlencode([*others, *[(k, request.args[k]) for k in ("after", "before") if k in request.args], ("limit", limit)])
    if has_next and end:
        links["next"] = "?" + urlencode([*others, ("after", end), ("limit", limit)])
    return {"count": len(chunk), "per_page": limit, "start_cursor": start, "end_cursor": end, "links": links}

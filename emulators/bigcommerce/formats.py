"""Date and money formats as each BigCommerce API spells them, and the parser for date filters."""

from __future__ import annotations

import calendar
import time
from datetime import datetime
from email.utils import parsedate_to_datetime

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def iso_z(epoch: int) -> str:
    """v3 customer-domain dates: ``2020-02-06T17:46:33Z`` (subscribers assumed the same; UNCONFIRMED)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def iso_offset(epoch: int) -> str:
    """v3 catalog dates: ``2018-08-15T14:48:46+00:00``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch))


def rfc2822(epoch: int) -> str:
    """v2 dates, always UTC: ``Wed, 10 Jan 2018 21:05:30 +0000`` (locale-independent)."""
    t = time.gmtime(epoch)
    return (
        f"{_WEEKDAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def money(value: float) -> str:
    """v2 money: a string with four decimals (``"336.3200"``)."""
    return f"{value:.4f}"


def parse_date(value: str, date_only_means_now: bool = False) -> int:
    """Parse a filter value (ISO-8601 with or without time/offset, RFC-2822, or unix seconds).

    A date without a time means midnight UTC, except where ``date_only_means_now`` is set:
    the catalog docs say the API then appends the current time of the request.
    Raises ``ValueError`` on anything else (the API answers 422 / 400).
    """
    text = value.strip()
    if not text:
        raise ValueError("empty date")
    if text.isdigit():
        return int(text)
    if "," in text or (len(text) > 3 and text[:3] in _WEEKDAYS):
        parsed = parsedate_to_datetime(text)
        return int(parsed.timestamp()) if parsed.tzinfo else calendar.timegm(parsed.timetuple())
    if len(text) == 10:
        day = datetime.strptime(text, "%Y-%m-%d")
        midnight = calendar.timegm(day.timetuple())
        if date_only_means_now:
            return midnight + int(time.time()) % 86400
        return midnight
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        return calendar.timegm(parsed.timetuple())
    return int(parsed.timestamp())

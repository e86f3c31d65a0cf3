"""ISO 3166-2 region codes for BigCommerce's full state names ("Texas" → "US-TX").

BigCommerce addresses carry the state or province as a full name and the country as a name
plus an ISO alpha-2 code; pycountry knows the subdivisions. Matching ignores case and accents,
prefers top-level subdivisions when two share a name, and also
accepts a state given as its code ("TX").
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import pycountry


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


@lru_cache(maxsize=512)
def country_code(country: str | None, code: str | None) -> str | None:
    """The ISO alpha-2 code from the code BigCommerce sent, or from the country's name."""
    if code and len(code.strip()) == 2:
        return code.strip().upper()
    if not country:
        return None
    try:
        return pycountry.countries.lookup(country.strip()).alpha_2
    except LookupError:
        return None


@lru_cache(maxsize=256)
def _subdivisions(alpha_2: str) -> dict[str, str]:
    """Plain name (and bare code) → ISO 3166-2 code; top-level subdivisions win name clashes."""
    index: dict[str, str] = {}
    found = sorted(
        pycountry.subdivisions.get(country_code=alpha_2) or [], key=lambda s: s.parent_code is None
    )
    for subdivision in found:  # top-level ones last, so they overwrite
        index[_plain(subdivision.name)] = subdivision.code
        index.setdefault(_plain(subdivision.code.split("-", 1)[1]), subdivision.code)
    return index


@lru_cache(maxsize=4096)
def region_code(
    state: str | None, country: str | None = None, code: str | None = None
) -> str | None:
    """``"US-TX"`` for ("Texas", "United States", "US"); None when the state is empty or unknown."""
    alpha_2 = country_code(country, code)
    if not state or not alpha_2:
        return None
    index = _subdivisions(alpha_2)
    wanted = _plain(state)
    if wanted in index:
        return index[wanted]
    for name, iso in index.items():  # "Madrid" vs "Madrid, Comunidad de"
        if name.startswith(wanted + ",") or name.startswith(wanted + " ("):
            return iso
    return None

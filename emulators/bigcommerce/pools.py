"""Word pools the store generator draws from, built once from Faker with a fixed seed.

Drawing from small pools (instead of calling Faker per record) keeps a customer cheap to
build, which is what lets a million-customer store be generated lazily, page by page.
Faker output depends on its version, so a store repeats exactly on the same installation.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

from faker import Faker

# Real subdivision names, each resolvable to an ISO 3166-2 code with pycountry
# (checked by tests/emulators/test_bigcommerce_generator.py).
STATES: dict[str, tuple[str, ...]] = {
    "US": ("California", "Texas", "New York", "Florida", "Washington", "Illinois", "Massachusetts", "Colorado"),
    "GB": ("England", "Scotland", "Northern Ireland"),
    "CA": ("Ontario", "Quebec", "British Columbia", "Alberta"),
    "AU": ("New South Wales", "Victoria", "Queensland"),
    "DE": ("Bayern", "Berlin", "Hamburg", "Nordrhein-Westfalen", "Baden-Württemberg"),
    "FR": ("Île-de-France", "Auvergne-Rhône-Alpes", "Bretagne", "Occitanie"),
    "ES": ("Madrid", "Andalucía"),
    "IT": ("Lombardia", "Lazio", "Toscana"),
    "NL": ("Noord-Holland", "Zuid-Holland", "Utrecht"),
    "PL": ("Mazowieckie", "Małopolskie"),
    "JP": ("Tokyo", "Osaka", "Hokkaido", "Kyoto"),
}
COUNTRY_NAMES = {
    "US": "United States", "GB": "United Kingdom", "CA": "Canada", "AU": "Australia",
    "DE": "Germany", "FR": "France", "ES": "Spain", "IT": "Italy", "NL": "Netherlands",
    "PL": "Poland", "JP": "Japan",
}
LOCALES = {
    "US": "en_US", "GB": "en_GB", "CA": "en_CA", "AU": "en_AU", "DE": "de_DE", "FR": "fr_FR",
    "ES": "es_ES", "IT": "it_IT", "NL": "nl_NL", "PL": "pl_PL", "JP": "ja_JP",
}
# Cumulative weights: mostly US and UK shoppers, a long international tail.
COUNTRY_WEIGHTS = (
    ("US", 40), ("GB", 18), ("CA", 6), ("AU", 5), ("DE", 8), ("FR", 6), ("ES", 4),
    ("IT", 4), ("NL", 3), ("PL", 3), ("JP", 3),
)
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example", "shop.example")
NOTES = (
    "", "", "", "", "VIP — prefers delivery après 18h",
    "Rückruf erwünscht, bitte nur vormittags", "Cliente habitual; envío a la oficina",
    "Gift wrap every order ☺", "お届けは午前中希望", "Wholesale enquiry — call before shipping",
    "Allergic to nuts (gift baskets)", "Préfère être contacté par e-mail",
)
COMPANIES = ("", "", "", "", "Acme Corp", "Nordwind GmbH", "Café Lumière SARL", "Zieliński i Syn",
             "Blue Harbour Ltd", "株式会社サクラ", "Oak & Ivy", "Fjord Supplies")
PRODUCT_ADJECTIVES = ("Classic", "Organic", "Deluxe", "Handmade", "Vintage", "Compact", "Premium",
                      "Everyday", "Artisan", "Crème", "Nordic", "Éco")
PRODUCT_NOUNS = ("Mug", "Tote Bag", "Candle", "Notebook", "Scarf", "Teapot", "Backpack", "Lamp",
                 "Water Bottle", "Throw Blanket", "Jar", "Chopping Board", "Espresso Cups", "Socks")
BRANDS = {1: "Common Good", 2: "Sagaform", 3: "OFS", 4: "Maison Élise"}


@dataclass(frozen=True)
class LocalePool:
    """Names and address parts of one country."""

    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    streets: tuple[str, ...]
    cities: tuple[str, ...]
    postcodes: tuple[str, ...]
    phones: tuple[str, ...]


@cache
def locale_pool(country_code: str) -> LocalePool:
    """The pool for one country, built from Faker once per process (seeded, so repeatable)."""
    fake = Faker(LOCALES[country_code])
    fake.seed_instance(20240501)

    def many(make, count: int) -> tuple[str, ...]:
        return tuple(dict.fromkeys(make() for _ in range(count)))

    return LocalePool(
        first_names=many(fake.first_name, 120),
        last_names=many(fake.last_name, 120),
        streets=many(fake.street_address, 80),
        cities=many(fake.city, 60),
        postcodes=many(fake.postcode, 60),
        phones=many(fake.phone_number, 60),
    )


def ascii_slug(text: str) -> str:
    """Lower-case ASCII for e-mail local parts ("Łukasz Müller" -> "ukasz.muller")."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def pick_country(roll: int) -> str:
    """A country code from a 0..99 roll, following ``COUNTRY_WEIGHTS``."""
    total = 0
    for code, weight in COUNTRY_WEIGHTS:
        total += weight
        if roll < total:
            return code
    return "US"

"""The store's brands and category tree, generated from the seed (reference §3.6–3.7).

Products point at these by ``brand_id`` and ``categories`` ids, so a client that lists
``/v3/catalog/brands`` and ``/v3/catalog/categories`` can name every product's brand and
categories. The sizes grow with the catalog (one brand per ten products, at least four; one
category per ten products, at least twelve) unless ``StoreSpec.brands`` / ``categories`` say
otherwise. Ids start where the vendor's examples start (brands 35, categories 18): positions
are not ids. Names are unique (the vendor requires it for brands and among sibling categories)
and some carry non-ASCII letters; a tenth of the categories are hidden from the storefront,
which does not stop products from being filed in them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from emulators.common import derive_rng

from . import pools

if TYPE_CHECKING:
    from .generator import StoreSpec

FIRST_BRAND_ID = 35
FIRST_CATEGORY_ID = 18
TOP_CATEGORIES = ("Shop All", "Kitchen", "Home", "Garden", "Café & Cuisine", "Sale")
BRAND_SUFFIXES = ("", " Studio", " & Co.", " Atelier", " Works", " Supply")
CATEGORY_SORTS = ("use_store_settings", "use_store_settings", "featured", "newest", "best_selling")
NO_BRAND_SHARE = 0.1  # products with brand_id 0


def brand_count(spec: StoreSpec) -> int:
    return spec.brands if spec.brands is not None else max(len(pools.BRANDS), spec.products // 10)


def category_count(spec: StoreSpec) -> int:
    if spec.categories is not None:
        return max(spec.categories, len(TOP_CATEGORIES) + 1)
    return max(12, spec.products // 10)


def _unique(name: str, number: int, taken: set[str]) -> str:
    unique = name if name.lower() not in taken else f"{name} {number}"
    taken.add(unique.lower())
    return unique


def _url_path(name: str) -> str:
    """``/cafe-and-cuisine/`` from "Café & Cuisine"."""
    words = [pools.ascii_slug(word) for word in name.replace("&", "and").split()]
    return "/" + ("-".join(w for w in words if w) or "catalog") + "/"


@lru_cache(maxsize=64)
def brands(spec: StoreSpec) -> tuple[dict, ...]:
    """Every brand as ``GET /v3/catalog/brands`` shows it; the first are the vendor's examples."""
    rng = derive_rng(spec.seed, "brands")
    taken: set[str] = set()
    made = []
    for number in range(brand_count(spec)):
        if number < len(pools.BRANDS):
            base = pools.BRANDS[number + 1]
        else:
            base = f"{rng.choice(pools.PRODUCT_ADJECTIVES)} {rng.choice(pools.PRODUCT_NOUNS)}"
            base += rng.choice(BRAND_SUFFIXES)
        name = _unique(base, number + 1, taken)
        made.append(
            {
                "id": FIRST_BRAND_ID + number,
                "name": name,
                "page_title": "",
                "meta_keywords": [""],
                "meta_description": "",
                "image_url": "",
                "search_keywords": "",
                "custom_url": {
                    "url": f"/brands/{_url_path(name).strip('/')}.html",
                    "is_customized": False,
                },
            }
        )
    return tuple(made)


@lru_cache(maxsize=64)
def categories(spec: StoreSpec) -> tuple[dict, ...]:
    """The category tree, parents first: top-level departments, then one level of children."""
    rng = derive_rng(spec.seed, "categories")
    taken: set[str] = set()
    made = []
    for number in range(category_count(spec)):
        category_id = FIRST_CATEGORY_ID + number
        if number < len(TOP_CATEGORIES):
            parent, name, path = 0, TOP_CATEGORIES[number], ""
        else:
            parent_number = rng.randrange(1, len(TOP_CATEGORIES))  # never under "Shop All"
            parent = FIRST_CATEGORY_ID + parent_number
            noun = pools.PRODUCT_NOUNS[(number - len(TOP_CATEGORIES)) % len(pools.PRODUCT_NOUNS)]
            name = f"{rng.choice(pools.PRODUCT_ADJECTIVES)} {noun}"
            path = _url_path(TOP_CATEGORIES[parent_number]).rstrip("/")
        name = _unique(name, category_id, taken)
        made.append(
            {
                "id": category_id,
                "parent_id": parent,
                "name": name,
                "description": f"<p>{name}</p>" if rng.random() < 0.5 else "",
                "views": rng.randrange(0, 5000),
                "sort_order": number % 7,
                "page_title": "",
                "meta_keywords": [""],
                "meta_description": "",
                "layout_file": "category_with_facets.html" if parent == 0 else "category.html",
                "image_url": "",
                "is_visible": number < len(TOP_CATEGORIES) or rng.random() >= 0.1,
                "search_keywords": "",
                "default_product_sort": rng.choice(CATEGORY_SORTS),
                "custom_url": {"url": path + _url_path(name), "is_customized": False},
            }
        )
    return tuple(made)


def product_links(spec: StoreSpec, pid: int) -> tuple[int, list[int]]:
    """(brand_id, category ids) of generated product ``pid``: an existing brand or 0 (none),
    one child category, and about half the time "Shop All" too."""
    rng = derive_rng(spec.seed, "product-links", pid)
    brand = (
        0 if rng.random() < NO_BRAND_SHARE else FIRST_BRAND_ID + rng.randrange(brand_count(spec))
    )
    children = category_count(spec) - len(TOP_CATEGORIES)
    filed = [FIRST_CATEGORY_ID + len(TOP_CATEGORIES) + rng.randrange(children)]
    if rng.random() < 0.5:
        filed.insert(0, FIRST_CATEGORY_ID)
    return brand, filed

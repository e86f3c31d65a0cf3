"""``GET /v3/catalog/brands`` and ``GET /v3/catalog/categories`` (scope ``store_v2_products``).

Offset-paged v3 lists (``page``, ``limit`` ≤ 250, ``meta.pagination``) with the vendor's
filters: ``id`` and its ``:in``/``:not_in``/``:min``/``:max``/``:greater``/``:less`` forms,
``name``, ``name:like``, ``page_title``, ``include_fields``/``exclude_fields`` (``id`` always
kept), ``sort``/``direction``; categories also ``parent_id[:in]``, ``is_visible``, ``keyword``.
Choices where the reference is silent (UNCONFIRMED): the default order is id ascending,
``name:like`` is a case-insensitive substring match, brands sort by ``id`` or ``name``.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, g, request

from .context import requires_scope
from .listing import BadRequest, bool_arg, int_list, offset_meta, page_of, paging
from .responses import json_response

blueprint = Blueprint("bc_catalog_names", __name__)
BRAND_SORTS = {"id", "name"}
CATEGORY_SORTS = {"id", "name", "parent_id", "sort_order"}
_BOUNDS: dict[str, Callable[[int, int], bool]] = {
    "min": lambda value, bound: value >= bound,
    "max": lambda value, bound: value <= bound,
    "greater": lambda value, bound: value > bound,
    "less": lambda value, bound: value < bound,
}


@blueprint.get("/v3/catalog/brands")
@requires_scope("products")
def list_brands(store_hash: str):
    return _listing(g.store.brands, BRAND_SORTS, _common_checks())


@blueprint.get("/v3/catalog/categories")
@requires_scope("products")
def list_categories(store_hash: str):
    checks = _common_checks()
    parents = int_list("parent_id:in")
    if request.args.get("parent_id"):
        single = int_list("parent_id")
        parents = single if parents is None else parents & single
    if parents is not None:
        checks.append(lambda r: r["parent_id"] in parents)
    wanted = bool_arg("is_visible")
    if wanted is not None:
        checks.append(lambda r: r["is_visible"] is wanted)
    keyword = (request.args.get("keyword") or "").strip().lower()
    if keyword:
        checks.append(lambda r: keyword in f"{r['name']} {r['search_keywords']}".lower())
    return _listing(g.store.categories, CATEGORY_SORTS, checks)


def _common_checks() -> list[Callable[[dict], bool]]:
    checks: list[Callable[[dict], bool]] = []
    for name in ("id", "id:in"):
        wanted = int_list(name)
        if wanted is not None:
            checks.append(lambda r, w=wanted: r["id"] in w)
    excluded = int_list("id:not_in")
    if excluded is not None:
        checks.append(lambda r: r["id"] not in excluded)
    for bound, holds in _BOUNDS.items():
        raw = request.args.get(f"id:{bound}")
        if raw:
            try:
                limit = int(raw)
            except ValueError as error:
                raise BadRequest(f"id:{bound}", "must be an integer") from error
            checks.append(lambda r, b=limit, h=holds: h(r["id"], b))
    for field in ("name", "page_title"):
        if request.args.get(field):
            checks.append(lambda r, f=field, v=request.args[field]: r[f] == v)
    like = (request.args.get("name:like") or "").lower()
    if like:
        checks.append(lambda r: like in r["name"].lower())
    return checks


def _listing(records: tuple[dict, ...], sorts: set[str], checks: list[Callable[[dict], bool]]):
    page, limit = paging()
    sort, direction = request.args.get("sort", "id"), request.args.get("direction", "asc")
    if sort not in sorts or direction not in ("asc", "desc"):
        raise BadRequest("sort", "is not a valid sort")
    fields = {f for f in request.args.get("include_fields", "").split(",") if f}
    excluded = {f for f in request.args.get("exclude_fields", "").split(",") if f} - {"id"}
    with g.store.lock:
        kept = [r for r in records if all(check(r) for check in checks)]
    kept.sort(key=lambda r: (r[sort], r["id"]), reverse=direction == "desc")
    chunk = page_of(kept, page, limit)
    data = [
        {
            k: v
            for k, v in r.items()
            if (not fields or k in fields or k == "id") and k not in excluded
        }
        for r in chunk
    ]
    return json_response({"data": data, "meta": offset_meta(len(kept), len(data), page, limit)})

"""Example Shop: a small source plugin for Connector Host, written as documentation.

"Example Shop" is a made-up REST platform. What this plugin assumes of its API:

- ``GET {base_url}/shops/{shop}`` answers ``{"data": {"id", "name", "url"}}``;
- ``GET {base_url}/shops/{shop}/{customers|subscribers|orders|products}`` lists records in
  ascending ``updated_at`` order (ties by ``id``) as
  ``{"data": [...], "meta": {"page", "pages", "total"}, "links": {"next": url or null}}``;
  query parameters: ``page``, ``limit`` (the API may cap it), ``updated_since`` (ISO 8601,
  inclusive) and ``ids`` (comma-separated);
- every call carries the shop's API key in the ``X-Api-Key`` header; a bad key answers 401,
  a key without the resource's permission 403; overload answers 429 with ``Retry-After``.

Modules: ``plugin`` (hook implementations and the ``example-shop-connect`` command), ``source``
(the ``Source``: an ``HttpSource``, which does the HTTP, paging, retries and error sorting),
``streams`` (the declarations) and ``records`` (API records → canonical records).
"""

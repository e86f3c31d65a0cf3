"""What the two asynchronous import services (contacts, Insight data) share: start and status."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify

from . import jobs
from .errors import v3_error
from .web import account, state


def start(kind: str, service: str, payload: dict[str, Any], active_limit: int):
    """202 ``{"importId"}``; 429 ``<service>:tooManyActiveImports`` past the active limit.
    Call with the emulator's lock held (the payload was validated under it)."""
    emulator, me = state(), account()
    if jobs.active_imports(me, kind) >= active_limit:
        raise v3_error(429, f"{service}:tooManyActiveImports", "Too many active imports")
    job = jobs.new_import(
        kind,
        payload,
        emulator.clock.now(),
        emulator.options.processing_delay,
        emulator.take_stuck_flag(),
    )
    me.imports[job.id] = job
    emulator.advance(me)
    return jsonify({"importId": job.id}), 202


def status(kind: str, service: str, import_id: str, not_found: str):
    """The import's status body, or 404 ``<service>:importNotFound`` with the service's wording."""
    with state().lock:
        job = account().imports.get(import_id)
        if job is None or job.kind != kind:
            raise v3_error(404, f"{service}:importNotFound", not_found)
        if job.status != "Finished":
            return jsonify(jobs.import_status_body(job))
        if job.answer is None:  # a finished report never changes: encode its 80,000 rows once
            job.answer = current_app.json.dumps_bytes(jobs.import_status_body(job)) + b"\n"
            # the encoded answer now holds the per-contact rows; the state keeps the rest
            job.result = {k: v for k, v in job.result.items() if k not in ("created", "updated")}
        return Response(job.answer, mimetype="application/json")

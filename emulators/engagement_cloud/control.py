"""``/_emulator/…``: inspect and steer the emulator (state, reset, accounts, opt-in, time).

Fault knobs (5xx share, 429 bursts, latency, dropped connections) live at
``GET|POST /_emulator/faults`` (``emulators.common``); the Engagement Cloud-only fault, an
import stuck in processing, is ``POST /_emulator/stuck-imports``.

Applied faults (same endpoint, ``emulators.common.FaultSettings``): an accepted write (POST,
PUT, PATCH, DELETE answered below 400; never a GET) is carried out and then answered with a 5xx
in the service's error shape (``applied_error_rate``, one-shot ``pending_applied_errors``) or
its connection is closed unanswered (``applied_drop_rate``, one-shot ``pending_applied_drops``).
So an enrolment (``POST /v2/programs/enrolments``) exists and finishes, a contact or Insight
import job exists and finishes, and an upserted contact (``PATCH /contacts/v3/...``) exists,
though the client saw a failure. ``only_paths`` and ``seed`` apply as for the other knobs.

``GET|PATCH /_emulator/modes``: the UNCONFIRMED readings played (``consent_records``,
``data_field_types``; what is known and assumed for each is in ``modes.py``); a reset restores
the ones the emulator was created with.
"""

from __future__ import annotations

from dataclasses import fields

from flask import Blueprint, Response, current_app, jsonify, request

from ..common import paused_gc
from ..modes import control_view
from .api_unsubscribes import STATUS_OF_REASON, as_json, parse_since, unsubscribe
from .contacts import confirm_opt_in
from .errors import ApiError
from .model import FEATURES, REGIONS, AccountSeed
from .state import Options
from .web import EXTENSION_KEY, state, truthy

blueprint = Blueprint("ec_control", __name__, url_prefix="/_emulator")


def _error(status: int, message: str):
    return jsonify({"error": message}), status


def _account_or_404(api_user: str):
    account = state().account(api_user)
    if account is None:
        return None, _error(404, f"no account with api_user {api_user!r}")
    return account, None


def _contact_or_404(api_user: str, email: str):
    """(account, contact, None), or (None, None, the 404 answer) when either is unknown."""
    account, missing = _account_or_404(api_user)
    if missing:
        return None, None, missing
    contact = account.contact_by_email(email)
    if contact is None:
        return None, None, _error(404, f"no contact {email!r}")
    return account, contact, None


def _body() -> dict:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


@blueprint.get("/state")
def get_state():
    summary = truthy(request.args.get("summary"))
    # Encoded under the lock (the document shares the contacts' values); no cyclic collection
    # while a 100,000-contact document is built (see paused_gc).
    with state().lock, paused_gc():
        document = state().snapshot(summary=summary)
        document["requests"] = current_app.extensions[f"{EXTENSION_KEY}.requests"].snapshot()
        body = current_app.json.dumps_bytes(document)
    return Response(body + b"\n", mimetype="application/json")


@blueprint.post("/reset")
def reset():
    """Back to the seeded accounts; clears request counts and faults too."""
    state().reset()
    current_app.extensions[f"{EXTENSION_KEY}.requests"].reset()
    current_app.extensions[f"{EXTENSION_KEY}.faults"].reset()
    return jsonify({"reset": True})


@blueprint.post("/accounts")
def add_account():
    try:
        account = state().add_account(AccountSeed.from_json(_body()))
    except (TypeError, ValueError) as error:
        return _error(400, str(error))
    return jsonify(
        {"api_user": account.api_user, "account_id": account.id, "region": account.region}
    ), 201


@blueprint.patch("/accounts/<api_user>")
def change_account(api_user: str):
    """Change ``region``, ``password``, ``features`` (partial), ``enforce_double_opt_in``,
    ``rate_limit_per_minute``, ``enrolments_per_hour``, ``keep_every_consent_record``, or lock /
    disable the API user (``locked``, ``disabled``: every call with its credentials then answers 401)."""
    body = _body()
    allowed = {
        "region",
        "password",
        "features",
        "enforce_double_opt_in",
        "rate_limit_per_minute",
        "enrolments_per_hour",
        "locked",
        "disabled",
        "keep_every_consent_record",
    }
    if set(body) - allowed:
        return _error(400, f"unknown settings: {sorted(set(body) - allowed)}")
    with state().lock:
        account, missing = _account_or_404(api_user)
        if missing:
            return missing
        if "region" in body and body["region"] not in REGIONS:
            return _error(400, f"region must be one of {REGIONS}")
        if set(body.get("features") or {}) - set(FEATURES):
            return _error(400, f"features are {list(FEATURES)}")
        flags = ("locked", "disabled", "keep_every_consent_record")
        if any(not isinstance(body[name], bool) for name in flags if name in body):
            return _error(400, "locked, disabled and keep_every_consent_record must be true or false")
        for name in (
            "region",
            "password",
            "enforce_double_opt_in",
            "rate_limit_per_minute",
            "enrolments_per_hour",
            "locked",
            "disabled",
            "keep_every_consent_record",
        ):
            if name in body:
                setattr(account, name, body[name])
        account.features.update(body.get("features") or {})
        return jsonify(
            {
                "api_user": account.api_user,
                "region": account.region,
                "features": account.features,
                "enforce_double_opt_in": account.enforce_double_opt_in,
                "rate_limit_per_minute": account.rate_limit_per_minute,
                "enrolments_per_hour": account.enrolments_per_hour,
                "locked": account.locked,
                "disabled": account.disabled,
                "keep_every_consent_record": account.keep_every_consent_record,
            }
        )


@blueprint.post("/accounts/<api_user>/programs")
def add_program(api_user: str):
    body = _body()
    status = body.get("status", "Active")
    if not body.get("name") or status not in ("Draft", "Active", "Deactivated", "ReadOnly"):
        return _error(400, "a program needs a name and a status Draft|Active|Deactivated|ReadOnly")
    with state().lock:
        account, missing = _account_or_404(api_user)
        if missing:
            return missing
        program = account.add_program(body["name"], status, state().clock.iso())
        return jsonify({"id": program.id, "name": program.name, "status": program.status}), 201


@blueprint.patch("/accounts/<api_user>/programs/<int:program_id>")
def change_program(api_user: str, program_id: int):
    status = _body().get("status")
    if status not in ("Draft", "Active", "Deactivated", "ReadOnly"):
        return _error(400, "status must be Draft|Active|Deactivated|ReadOnly")
    with state().lock:
        account, missing = _account_or_404(api_user)
        if missing:
            return missing
        program = account.programs.get(program_id)
        if program is None:
            return _error(404, f"no program {program_id}")
        program.status = status
        return jsonify({"id": program.id, "name": program.name, "status": program.status})


@blueprint.post("/accounts/<api_user>/contacts/<email>/confirm-opt-in")
def confirm(api_user: str, email: str):
    """The contact clicks the link in the double opt-in email."""
    with state().lock:
        account, contact, missing = _contact_or_404(api_user, email)
        if missing:
            return missing
        if contact.status != "pendingOptIn":
            return _error(409, f"contact is {contact.status}, not pendingOptIn")
        confirm_opt_in(account, contact, state().clock.iso())
        return jsonify(
            {
                "id": contact.id,
                "email": contact.email,
                "status": contact.status,
                "optInType": contact.opt_in_type,
                "address_books": account.book_ids_of(contact.id),
            }
        )


@blueprint.post("/accounts/<api_user>/contacts/<email>/status")
def set_contact_status(api_user: str, email: str):
    """Simulate what happens outside the API: an unsubscribe link, a bounce, a complaint."""
    status = _body().get("status")
    allowed = (
        "subscribed",
        "unsubscribed",
        "suppressed",
        "softBounced",
        "hardBounced",
        "ispComplained",
        "pendingOptIn",
    )
    if status not in allowed:
        return _error(400, f"status must be one of {allowed}")
    with state().lock:
        account, contact, missing = _contact_or_404(api_user, email)
        if missing:
            return missing
        contact.status = status
        contact.updated = state().clock.iso()
        return jsonify({"id": contact.id, "email": contact.email, "status": contact.status})


@blueprint.post("/accounts/<api_user>/contacts/<email>/unsubscribe")
def unsubscribe_contact(api_user: str, email: str):
    """The contact unsubscribes outside the API (a link in an email, the preference centre):
    ``{"address_book_id": id}`` from that book only, else from the whole account; ``reason``
    (account-level only: ``Unsubscribed``, ``HardBounced``, ...); ``date_removed`` (ISO 8601,
    default now) backdates or postdates the record. Answers the ``ApiContactSuppression``."""
    body = _body()
    book_id, reason = body.get("address_book_id"), body.get("reason", "Unsubscribed")
    if reason not in STATUS_OF_REASON or (book_id is not None and reason != "Unsubscribed"):
        return _error(400, f"reason must be one of {sorted(STATUS_OF_REASON)} (a book takes only Unsubscribed)")
    with state().lock:
        account, contact, missing = _contact_or_404(api_user, email)
        if missing:
            return missing
        if book_id is not None and book_id not in account.books:
            return _error(404, f"no address book {book_id}")
        when = body.get("date_removed") or state().clock.iso()
        try:
            parse_since(str(when))
        except ApiError:
            return _error(400, "date_removed must be an ISO 8601 date-time")
        record = unsubscribe(account, contact, str(when), book_id=book_id, reason=reason)
        return jsonify(as_json(account, record))


@blueprint.get("/accounts/<api_user>/confirmation-emails")
def confirmation_emails(api_user: str):
    with state().lock:
        account, missing = _account_or_404(api_user)
        return missing or jsonify(list(account.confirmation_emails))


@blueprint.post("/stuck-imports")
def stuck_imports():
    """``{"count": n}``: the next n imports (contacts or Insight) never finish until released."""
    count = _body().get("count", 1)
    if not isinstance(count, int) or count < 0:
        return _error(400, "count must be a non-negative integer")
    with state().lock:
        state().stuck_imports_pending = count
        return jsonify({"pending": count})


@blueprint.post("/imports/<import_id>/release")
def release_import(import_id: str):
    with state().lock:
        for account in state().accounts.values():
            job = account.imports.get(import_id)
            if job is not None:
                job.stuck = False
                state().advance(account)
                return jsonify({"id": job.id, "status": job.status})
        return _error(404, f"no import {import_id}")


@blueprint.post("/clock")
def move_clock():
    """``{"advance": seconds}``: jobs, rate-limit windows and hourly caps see the time pass."""
    seconds = _body().get("advance", 0)
    if not isinstance(seconds, int | float) or seconds < 0:
        return _error(400, "advance must be a non-negative number of seconds")
    with state().lock:
        state().clock.offset += seconds
        return jsonify({"offset": state().clock.offset})


@blueprint.route("/options", methods=["GET", "PATCH"])
def options():
    """Emulator-wide options, e.g. ``{"processing_delay": 0}``."""
    body = _body() if request.method == "PATCH" else {}
    known = {f.name for f in fields(Options)}
    if set(body) - known:
        return _error(400, f"unknown options: {sorted(set(body) - known)}")
    with state().lock:
        for name, value in body.items():
            setattr(state().options, name, value)
        return jsonify({name: getattr(state().options, name) for name in sorted(known)})


def _set_modes(modes) -> None:
    with state().lock:
        state().modes = modes


blueprint.add_url_rule("/modes", "modes", control_view(lambda: state().modes, _set_modes), methods=["GET", "PATCH"])

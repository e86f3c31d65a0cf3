"""v2 programs and enrolments (reference §8).

Enrolments are not idempotent: every accepted POST creates a new enrolment with its own id,
as the real API does, so a client's exactly-once logic is really exercised. Each starts
``Processing`` and becomes ``Finished`` after the processing delay. At most
``enrolments_per_hour`` (20, §8) POSTs per rolling hour per account, else 400
``ERROR_ENROLMENT_ALLOWANCE_EXCEEDED``. The 25-contact cap in the ReadMe spec is not enforced
(UNCONFIRMED; the official connector sends more). An empty ``addressBooks`` counts as absent.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, jsonify

from .contacts import lower_keys
from .errors import v2_error
from .model import Enrolment, Program
from .web import account, json_body, state, v2_page

blueprint = Blueprint("ec_programs", __name__)
ENROLMENT_STATUSES = ("Processing", "Finished")


def _require_programs() -> None:
    if not account().features.get("programs"):
        raise v2_error(403, "Error: ERROR_FEATURENOTACTIVE")


def _program_json(program: Program) -> dict:
    return {
        "id": program.id,
        "name": program.name,
        "status": program.status,
        "dateCreated": program.date_created,
    }


def _enrolment_json(enrolment: Enrolment) -> dict:
    return {
        "id": enrolment.id,
        "programId": enrolment.program_id,
        "status": enrolment.status,
        "dateCreated": enrolment.date_created,
        "contacts": list(enrolment.contact_ids),
        "addressBooks": list(enrolment.address_book_ids),
    }


@blueprint.get("/v2/programs")
def list_programs():
    select, skip = v2_page()
    with state().lock:
        _require_programs()
        programs = list(account().programs.values())[skip : skip + select]
        return jsonify([_program_json(p) for p in programs])


@blueprint.get("/v2/programs/<int:programId>")
def get_program(programId: int):
    with state().lock:
        _require_programs()
        program = account().programs.get(programId)
        if program is None:
            raise v2_error(404, "Error: ERROR_PROGRAM_NOT_FOUND")
        return jsonify(_program_json(program))


def _int_list(value, name: str) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(i, int) for i in value):
        raise v2_error(400, f"{name} must be an array of ids. ERROR_ENROLMENT_INVALID")
    return value


@blueprint.post("/v2/programs/enrolments")
def create_enrolment():
    body = lower_keys(json_body())
    emulator = state()
    with emulator.lock:
        _require_programs()
        me = account()
        requested_id = body.get("programid")
        program = me.programs.get(requested_id) if isinstance(requested_id, int) else None
        if program is None:
            raise v2_error(404, "Error: ERROR_PROGRAM_NOT_FOUND")
        if program.status != "Active":
            raise v2_error(422, "Error: ERROR_PROGRAM_NOT_ACTIVE")
        contacts = _int_list(body.get("contacts"), "contacts")
        books = _int_list(body.get("addressbooks"), "addressBooks")
        if not contacts and not books:
            raise v2_error(400, "Error: ERROR_ENROLMENT_INVALID")
        if len(books) > 10:
            raise v2_error(400, "Error: ERROR_ADDRESSBOOK_TOOMANY")
        if any(b not in me.books for b in books):
            raise v2_error(400, "Error: ERROR_ADDRESSBOOK_NOT_FOUND")
        if any(c not in me.contacts for c in contacts):
            raise v2_error(400, "Error: ERROR_CONTACT_NOT_FOUND")
        now = emulator.clock.now()
        while me.enrolment_times and me.enrolment_times[0] <= now - 3600:
            me.enrolment_times.popleft()
        if me.enrolments_per_hour and len(me.enrolment_times) >= me.enrolments_per_hour:
            raise v2_error(400, "Error: ERROR_ENROLMENT_ALLOWANCE_EXCEEDED")
        me.enrolment_times.append(now)
        enrolment = Enrolment(
            id=str(uuid.uuid4()),
            program_id=program.id,
            contact_ids=contacts,
            address_book_ids=books,
            date_created=emulator.clock.iso(),
            ready_at=now + emulator.options.processing_delay,
        )
        me.enrolments[enrolment.id] = enrolment
        return jsonify(_enrolment_json(enrolment)), 201


@blueprint.get("/v2/programs/enrolments/<enrolmentId>")
def get_enrolment(enrolmentId: str):
    """One path serves both an enrolment id and a status word (``Processing``/``Finished``)."""
    with state().lock:
        _require_programs()
        me = account()
        status = next((s for s in ENROLMENT_STATUSES if s.lower() == enrolmentId.lower()), None)
        if status is not None:
            select, skip = v2_page()
            rows = [e for e in me.enrolments.values() if e.status == status]
            return jsonify([_enrolment_json(e) for e in rows[skip : skip + select]])
        enrolment = me.enrolments.get(enrolmentId)
        if enrolment is None:
            raise v2_error(404, "Error: ERROR_ENROLMENT_NOT_FOUND")
        return jsonify(_enrolment_json(enrolment))

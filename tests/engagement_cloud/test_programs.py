"""Program enrolments: one POST per call, inactive programs end deactivated with a reason."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from host.errors import TransientError
from plugins.engagement_cloud.programs import ProgramNotActiveError

from . import records


def _contact_ids(destination, mapper, connection, numbers):
    batch = [mapper.map_contact(connection, email=c["email"], fields={}, mapping={})
             for c in map(records.customer, numbers)]
    return [r.destination_id for r in destination.write_contacts(connection, batch, book_id=None)]


def _program(destination, connection, name):
    return next(p.id for p in destination.programs(connection) if p.name == name)


def test_contacts_are_enrolled_in_one_call_and_the_enrolment_finishes(connection, destination, mapper, emulator):
    contact_ids = _contact_ids(destination, mapper, connection, [1, 2, 3])
    program = _program(destination, connection, "Welcome new customers")

    enrolment_id = destination.enrol(connection, program, contact_ids)

    enrolments = emulator.state()["enrolments"]
    assert [(e["id"], e["programId"], e["contacts"]) for e in enrolments] == [
        (enrolment_id, int(program), [int(c) for c in contact_ids])]
    for _ in range(50):
        if destination.enrolment_status(connection, enrolment_id) == "finished":
            break
        time.sleep(0.02)
    assert destination.enrolment_status(connection, enrolment_id) == "finished"


def test_an_inactive_program_gives_the_deactivation_reason(connection, destination, mapper, emulator):
    contact_ids = _contact_ids(destination, mapper, connection, [1])
    program = _program(destination, connection, "Old welcome series")

    with pytest.raises(ProgramNotActiveError) as refused:
        destination.enrol(connection, program, contact_ids)

    assert refused.value.code == "program_not_active" and "not active" in refused.value.reason
    assert emulator.state()["enrolments"] == []


def test_an_enrolment_is_never_posted_twice_even_when_the_answer_is_lost(connection, destination, mapper, emulator):
    contact_ids = _contact_ids(destination, mapper, connection, [1, 2])
    program = _program(destination, connection, "Welcome new subscribers")
    before = datetime.now(UTC) - timedelta(seconds=5)
    emulator.faults(error_rate=1.0, error_statuses=[502], only_paths=["/programs/enrolments"])

    with pytest.raises(TransientError):
        destination.enrol(connection, program, contact_ids)

    assert emulator.requests()["POST /v2/programs/enrolments"] == 1  # no blind retry
    emulator.faults(reset=True)
    # the engine settles the uncertain attempt before sending again: the service has none
    assert destination.find_enrolment(connection, program, contact_ids, before) is None
    enrolment_id = destination.enrol(connection, program, contact_ids)
    assert destination.find_enrolment(connection, program, contact_ids, before) == enrolment_id
    assert destination.find_enrolment(connection, program, contact_ids[1:], before) == enrolment_id


def test_rate_limited_enrolments_wait_and_land_once(connection, destination, mapper, emulator):
    contact_ids = _contact_ids(destination, mapper, connection, [1])
    program = _program(destination, connection, "First order thank-you")
    emulator.faults(pending_429=2, only_paths=["/programs/enrolments"])

    destination.enrol(connection, program, contact_ids)

    assert len(emulator.state()["enrolments"]) == 1

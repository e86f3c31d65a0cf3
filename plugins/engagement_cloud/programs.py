"""Program enrolments (``POST /v2/programs/enrolments``, reference §8).

Enrolments are not idempotent: every accepted POST enrols again. So ``enrol`` makes exactly
one POST per call. It is repeated only when it certainly did not arrive (the connection could
not be opened) or was refused (429); a 5xx or lost answer raises ``UncertainWriteError`` and
the engine keeps the rows uncertain until ``find_enrolment`` settles whether the service has
it. The hourly allowance (20 calls, §8) is counted by the host from its own call log (see
``host.enrolments``); the service's own refusal, ``ERROR_ENROLMENT_ALLOWANCE_EXCEEDED``, raises
``QuotaExceededError``: the enrolments wait, nothing fails.

Outcomes the engine acts on:
- ``ProgramNotActiveError`` (a ``ConfigurationError``, code ``program_not_active``): the
  program is not active (422 ``ERROR_PROGRAM_NOT_ACTIVE``); mark the enrolment deactivated
  with ``error.reason``.
- ``ConfigurationError`` code ``program_not_found`` / ``programs_disabled``.
- ``RecordError``: a contact id is unknown to the service.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from host.errors import ConfigurationError, QuotaExceededError, RecordError

from .client import ApiError, EngagementCloudClient
from .config import Settings

PAGE_SIZE = 1000


class ProgramNotActiveError(ConfigurationError):
    """The program accepts no enrolments; the enrolment ends deactivated with ``reason``."""

    def __init__(self, program_id: str):
        self.reason = (
            f"Program {program_id} is not active in Engagement Cloud (ERROR_PROGRAM_NOT_ACTIVE): "
            "activate it or choose another program on the Store tab."
        )
        super().__init__(self.reason, area="automation", code="program_not_active")


@dataclass(frozen=True)
class EnrolmentState:
    state: str  # processing | finished | not_found
    reason: str | None = None


def enrol(client: EngagementCloudClient, settings: Settings, program_id: str, contact_ids: Sequence[str]) -> str:
    """Enrol contacts (destination contact ids) in one program; answer the enrolment id."""
    if not contact_ids:
        raise ValueError("an enrolment needs at least one contact")
    if len(contact_ids) > settings.enrolment_batch_size:
        raise ValueError(f"at most {settings.enrolment_batch_size} contacts per enrolment call")
    body = {"programId": int(program_id), "contacts": [int(c) for c in contact_ids], "addressBooks": []}
    try:
        answer = client.send("POST", "/v2/programs/enrolments", json=body, idempotent=False)
    except ApiError as error:
        raise _enrolment_error(error, program_id) from None
    return str(answer.body["id"])


def _enrolment_error(error: ApiError, program_id: str) -> Exception:
    if error.code == "ERROR_PROGRAM_NOT_ACTIVE" or error.status == 422:
        return ProgramNotActiveError(program_id)
    if error.code == "ERROR_PROGRAM_NOT_FOUND":
        return ConfigurationError(
            f"Program {program_id} no longer exists in Engagement Cloud: choose another on the Store tab.",
            area="automation", code="program_not_found")
    if error.status == 403:
        return ConfigurationError("Programs are not enabled on this Engagement Cloud account.",
                                  area="automation", code="programs_disabled")
    if error.code.strip() == "ERROR_ENROLMENT_ALLOWANCE_EXCEEDED":  # Magento's constant has a trailing space
        return QuotaExceededError("The hourly Engagement Cloud enrolment allowance is used up; enrolling later",
                                  area="automation")
    if error.code == "ERROR_CONTACT_NOT_FOUND":
        return RecordError("ERROR_CONTACT_NOT_FOUND: a contact to enrol does not exist in Engagement Cloud",
                           area="automation")
    return RecordError(f"{error.code or error.status}: Engagement Cloud refused the enrolment: {error.message}",
                       area="automation")


def enrolment_state(client: EngagementCloudClient, enrolment_id: str) -> EnrolmentState:
    try:
        body = client.get(f"/v2/programs/enrolments/{enrolment_id}") or {}
    except ApiError as error:
        if error.status == 404:
            return EnrolmentState("not_found", "Engagement Cloud has no enrolment with this id")
        raise
    return EnrolmentState(str(body.get("status") or "Processing").lower())


def _created_at(value: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace(" ", "T"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def find_enrolment(
    client: EngagementCloudClient, program_id: str, contact_ids: Sequence[str], created_after: datetime,
    exclude: Collection[str] = (),
) -> str | None:
    """The id of an enrolment in this program that includes all these contacts and was created
    after ``created_after`` (server clock, UTC), if the service has one: settles an uncertain
    POST (asking about one contact of a batch finds the batch's enrolment). Enrolments whose id
    the caller already accounts for (``exclude``) are passed over, so an earlier enrolment of
    the same contact is never mistaken for the lost one."""
    wanted = {int(c) for c in contact_ids}
    exclude = set(exclude)
    for status in ("Processing", "Finished"):
        skip = 0
        while True:
            page = client.get(f"/v2/programs/enrolments/{status}", select=PAGE_SIZE, skip=skip) or []
            for row in page:
                created = _created_at(row.get("dateCreated"))
                if (str(row.get("programId")) == str(program_id) and wanted <= set(row.get("contacts") or [])
                        and created is not None and created >= created_after and str(row.get("id")) not in exclude):
                    return str(row["id"])
            if len(page) < PAGE_SIZE:
                break
            skip += PAGE_SIZE
    return None

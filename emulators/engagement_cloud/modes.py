"""The Engagement Cloud emulator's modes (see ``emulators.modes``): each UNCONFIRMED reading
the host's client depends on, played either way. The first value of each is the default.

- ``consent_records``: ``appended`` (each ``consentRecordsToBeInserted`` entry is added to the
  contact's consent records, duplicates and all, as the name says) or ``deduplicated`` (an
  entry equal to one the contact has is dropped).
- ``data_field_types``: ``enforced`` (a value that does not fit its data field's type —
  Date, Numeric, Boolean, String length — is refused for that record, as the import report
  does, reference §4) or ``lenient`` (stored as sent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ENV_VAR = "ENGAGEMENT_CLOUD_EMULATOR_MODES"


@dataclass(frozen=True)
class Modes:
    consent_records: Literal["appended", "deduplicated"] = "appended"
    data_field_types: Literal["enforced", "lenient"] = "enforced"

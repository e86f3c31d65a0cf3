"""The emulator's whole memory: accounts by API user, one lock, a movable clock.

``snapshot()`` renders the documented state shape that tools outside the code read::

    {"accounts": [{"api_user", "region", "address_books": [{"id", "name", "contacts"}],
                   "contacts": [{"id", "email", "status", "optInType", "dataFields",
                                 "consentRecords"}],
                   "insight": {"Orders": [{"key", "contactIdentity", "json"}],
                               "Catalog_Default": [{"key", "json"}]},
                   "programs": [...], "enrolments": [...], "imports": [...]}],
     "requests": {"METHOD /path/template": count}}

Each accepted enrolment call is one ``enrolments`` entry, with its ``dateCreated`` (when the call
was made): those are the calls counted against the account's ``enrolments_per_hour`` allowance
(a refused call creates none and is not counted), so a check can tell when it was used up.

Contact ``status`` is the v3 email-channel word (``subscribed``, ``pendingOptIn``) and
``optInType`` the PascalCase response word (``VerifiedDouble``).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any

from . import jobs
from .account import FIRST_ACCOUNT_ID, Account
from .model import AccountSeed
from .modes import Modes

_STATUS = attrgetter("status")


class Clock:
    """Monotonic seconds plus an offset tests can push forward, and matching UTC timestamps."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.monotonic() + self.offset

    def iso(self) -> str:
        moment = datetime.now(UTC) + timedelta(seconds=self.offset)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class Options:
    """Emulator-wide options (per-account ones live in ``AccountSeed``).

    processing_delay: seconds before an import or enrolment is applied.
    public_base_url: base for ``ApiEndpoint`` (default: the URL the client called).
    endpoint_trailing_slash: end ``ApiEndpoint`` with ``/`` as dotdigital's own example does.
    max_active_contact_imports / max_active_insight_imports: reference §4.4 (25) and §7.2 (5).
    """

    processing_delay: float = 0.2
    public_base_url: str | None = None
    endpoint_trailing_slash: bool = False
    max_active_contact_imports: int = 25
    max_active_insight_imports: int = 5


class EmulatorState:
    def __init__(self, seeds: list[AccountSeed], options: Options, modes: Modes | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        self.options = options
        self._modes = modes or Modes()  # UNCONFIRMED readings played (``modes.py``)
        self._initial_modes = self._modes
        self._initial_seeds = [replace(s) for s in seeds]
        self._initial_options = replace(options)
        self.accounts: dict[str, Account] = {}
        self.stuck_imports_pending = 0
        for seed in seeds:
            self.add_account(seed)

    @property
    def modes(self) -> Modes:
        return self._modes

    @modes.setter
    def modes(self, modes: Modes) -> None:
        """Every account plays the new modes from its next call (the contact writes read them)."""
        with self.lock:
            self._modes = modes
            for account in self.accounts.values():
                account.modes = modes

    def add_account(self, seed: AccountSeed) -> Account:
        with self.lock:
            if seed.api_user.lower() in self.accounts:
                raise ValueError(f"account {seed.api_user!r} already exists")
            default_id = FIRST_ACCOUNT_ID + len(self.accounts)  # stable across resets
            account = Account(seed, self.clock.iso(), default_id)
            account.modes = self._modes
            self.accounts[seed.api_user.lower()] = account
            return account

    def account(self, api_user: str) -> Account | None:
        return self.accounts.get(api_user.lower())

    def reset(self) -> None:
        """Back to the accounts and options the emulator started with."""
        with self.lock:
            self.accounts.clear()
            self.clock.offset = 0.0
            self.stuck_imports_pending = 0
            self.options = replace(self._initial_options)
            self.modes = self._initial_modes
            for seed in self._initial_seeds:
                self.add_account(replace(seed))

    def advance(self, account: Account) -> None:
        jobs.advance(account, self.clock.now(), self.clock.iso())

    def take_stuck_flag(self) -> bool:
        """True if the next import should hang (fault injection), consuming one."""
        if self.stuck_imports_pending > 0:
            self.stuck_imports_pending -= 1
            return True
        return False

    # ------------------------------------------------------------------ the state document
    def snapshot(self, summary: bool = False) -> dict[str, Any]:
        with self.lock:
            for account in self.accounts.values():
                self.advance(account)
            return {"accounts": [self._account_view(a, summary) for a in self.accounts.values()]}

    def _account_view(self, account: Account, summary: bool) -> dict[str, Any]:
        if summary:
            return {
                "api_user": account.api_user,
                "region": account.region,
                "address_books": len(account.books),
                "contacts": len(account.contacts),
                "contacts_by_status": _count(map(_STATUS, account.contacts.values())),
                "insight": {c.name: len(c.records) for c in account.collections.values()},
                "programs": len(account.programs),
                "enrolments": len(account.enrolments),
                "imports": len(account.imports),
                "imports_by_status": _count(map(_STATUS, account.imports.values())),
                "confirmation_emails": len(account.confirmation_emails),
            }
        insight_view: dict[str, list] = {}
        for collection in account.collections.values():
            rows = []
            for record in collection.records.values():
                row: dict[str, Any] = {"key": record.key}
                if collection.scope == "contact":
                    row["contactIdentity"] = record.contact_identity
                    row["contactId"] = record.contact_id
                row["json"] = record.json
                rows.append(row)
            insight_view[collection.name] = rows
        return {
            "api_user": account.api_user,
            "account_id": account.id,
            "region": account.region,
            "features": dict(account.features),
            "enforce_double_opt_in": account.enforce_double_opt_in,
            "rate_limit_per_minute": account.rate_limit_per_minute,
            "enrolments_per_hour": account.enrolments_per_hour,
            "locked": account.locked,
            "disabled": account.disabled,
            "data_fields": [
                {
                    "name": f.name,
                    "type": f.type,
                    "visibility": f.visibility,
                    "defaultValue": f.default_value,
                }
                for f in account.data_fields.values()
            ],
            "address_books": [
                {
                    "id": b.id,
                    "name": b.name,
                    "visibility": b.visibility,
                    "contacts": list(b.contact_ids),
                }
                for b in account.books.values()
            ],
            "contacts": [
                {
                    "id": c.id,
                    "email": c.email,
                    "status": c.status,
                    "optInType": c.opt_in_type,
                    "emailType": c.email_type,
                    "dataFields": c.data_fields,  # shared: control encodes under the lock
                    "consentRecords": [r.as_json() for r in c.consent_records],
                    "pendingAddressBooks": c.pending_book_ids,
                }
                for c in account.contacts.values()
            ],
            "insight": insight_view,
            "insight_collections": [
                {"name": c.name, "scope": c.scope, "type": c.type}
                for c in account.collections.values()
            ],
            "programs": [
                {"id": p.id, "name": p.name, "status": p.status} for p in account.programs.values()
            ],
            "enrolments": [
                {
                    "id": e.id,
                    "programId": e.program_id,
                    "contacts": list(e.enrolled_contact_ids or e.contact_ids),
                    "addressBooks": list(e.address_book_ids),
                    "status": e.status,
                    "dateCreated": e.date_created,
                }
                for e in account.enrolments.values()
            ],
            "imports": [
                {
                    "id": j.id,
                    "kind": j.kind,
                    "status": j.status,
                    "records": j.record_count,
                    "stuck": j.stuck,
                    **(
                        {
                            "summary": j.result.get("summary"),
                            "failures": j.result.get("failures", []),
                        }
                        if j.result
                        else {}
                    ),
                }
                for j in account.imports.values()
            ],
            "confirmation_emails": list(account.confirmation_emails),
            # what happened outside the API too (a link clicked): each unsubscribe or suppression
            "unsubscribes": [
                {
                    "contactId": s.contact_id,
                    "email": account.contacts[s.contact_id].email if s.contact_id in account.contacts else None,
                    "dateRemoved": s.date_removed,
                    "reason": s.reason,
                    "addressBookId": s.book_id,
                }
                for s in account.suppressions
            ],
        }


def _count(values) -> dict[str, int]:
    return dict(Counter(values))

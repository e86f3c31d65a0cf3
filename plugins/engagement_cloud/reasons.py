"""Why Engagement Cloud refused a record or an enrolment, in a merchant's words.

The ledger keeps the service's own answer as the reason (``"<code>: <description>"``, several
joined by ``"; "``), so support can read exactly what was said. ``explain`` turns it into one
plain sentence and a fix, from the table below: each API error code (reference §4.4 import
failure codes, §7 Insight failure reasons, §8 enrolment errors, §10.3 v2 ``ERROR_*`` codes)
to what happened and what the merchant can do. A code not in the table gets the generic
sentence; a reason with no code at all (a sentence the host or this plugin wrote) is left to
the host (``None``).

Codes are matched whatever their spelling: ``ERROR_CONTACT_NOT_FOUND``, ``contactNotFound``
and ``contacts:contactNotFound`` are one entry (``normalise``). Where the reference shows a
code only in one casing (UNCONFIRMED which the live service sends), both are understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from host.reasons import Explanation

TITLE = "Engagement Cloud"
RETRY = "then press Retry."


@dataclass(frozen=True)
class Reason:
    sentence: str
    fix: str
    by_area: dict[str, str] = field(default_factory=dict)  # a better sentence for one area


_INVALID_EMAIL = Reason(
    "The email address is not valid, so Engagement Cloud refused it.",
    f"Correct the email address in your store, {RETRY}",
)
_SUPPRESSED = Reason(
    "Engagement Cloud has suppressed this email address (an earlier unsubscribe, bounce, complaint "
    "or a blocked domain), so it cannot be added or enrolled.",
    "Nothing to fix in the store: the person can only come back by subscribing again. "
    "You can leave this row; it is not retried by itself.",
)
_TYPE_MISMATCH = Reason(
    "A value does not fit the type of the field it goes into (for example text sent to a "
    "number, date or yes/no field).",
    "Check the field types in Engagement Cloud and your Field mapping tab, correct the value or "
    f"the mapping, {RETRY}",
    by_area={
        "orders": "A value in this order does not fit the type Engagement Cloud already holds for it "
                  "in the Orders collection (the first orders sent set each value's type).",
        "catalog": "A value in this product does not fit the type Engagement Cloud already holds for "
                   "it in the catalog (the first products sent set each value's type).",
    },
)
_CONTACT_MISSING = Reason(
    "The contact is not in Engagement Cloud (yet), so nothing can be attached to it.",
    "It is tried again after the contact syncs. If it stays here, look for the contact's own row "
    f"in this list and fix that first, {RETRY}",
    by_area={
        "orders": "The order's contact is not in Engagement Cloud yet, so the order cannot be "
                  "attached to anyone.",
        "enrolments": "The contact is not in Engagement Cloud, so it cannot be enrolled.",
    },
)
_TOO_BIG = Reason(
    "Engagement Cloud could not store this record: a value is too long, too large or not in a "
    "form it accepts.",
    f"Check the record in your store (for example a very long name or description), {RETRY}",
)
_PROGRAM_NOT_ACTIVE = Reason(
    "The program is not active in Engagement Cloud, so nobody can be enrolled in it.",
    "Activate the program in Engagement Cloud (or choose another on this tab), then press Retry.",
)
_IMPORT_NOT_PROCESSED = Reason(
    "Engagement Cloud did not process the batch this record was sent in.",
    "Press Retry. If it happens again, ask Engagement Cloud support why imports fail.",
)
_BOOK_MISSING = Reason(
    "The address book chosen on this tab no longer exists in Engagement Cloud.",
    "Choose another address book in the Contacts section below, then press Retry.",
)

# normalised code → what it means. Keep entries short: one sentence and one fix each.
TABLE: dict[str, Reason] = {
    # contacts (reference §4.4 import failures, §10.3 v2 codes)
    "invalidemail": _INVALID_EMAIL,
    "parameterinvalid": _INVALID_EMAIL,  # v2 "Email is not a valid email address."
    "invaliddomain": Reason(
        "The email address's domain does not exist or cannot receive email.",
        f"Correct the email address in your store, {RETRY}",
    ),
    "nomxrecord": Reason(
        "The email address's domain cannot receive email (it has no mail server).",
        f"Correct the email address in your store, {RETRY}",
    ),
    "invalidcontact": _INVALID_EMAIL,
    "novalididentifiers": Reason(
        "The contact has no usable email address.",
        f"Add an email address to the record in your store, {RETRY}",
    ),
    "globallysuppressed": _SUPPRESSED,
    "contactsuppressed": _SUPPRESSED,
    "contactsuppressedforaddressbook": _SUPPRESSED,
    "suppressedbydomain": _SUPPRESSED,
    "domainsuppressed": _SUPPRESSED,
    "suppressed": _SUPPRESSED,
    "blocker": Reason(
        "Engagement Cloud does not accept this kind of address (a role or blocked address such as "
        "abuse@ or postmaster@).",
        "Use the person's own email address in your store, then press Retry; or leave this row.",
    ),
    "duplicate": Reason(
        "Engagement Cloud already has another contact with this email address.",
        "Check for two store records with the same email address, keep one, then press Retry.",
    ),
    "duplicateidentifier": Reason(
        "Engagement Cloud already has another contact with this email address.",
        "Check for two store records with the same email address, keep one, then press Retry.",
    ),
    "invalidphonenumber": Reason(
        "The phone number is not in a form Engagement Cloud accepts.",
        f"Correct the phone number in your store, {RETRY}",
    ),
    "invalidcontactstatus": Reason(
        "Engagement Cloud would not change this contact's subscription status.",
        "Check the contact in Engagement Cloud (it may be suppressed), then press Retry.",
    ),
    "datafieldnotfound": Reason(
        "A data field in your field mapping does not exist in Engagement Cloud.",
        "Create the field from the Field mapping tab, or unmap it, then press Retry.",
    ),
    "datafieldtypemismatch": _TYPE_MISMATCH,
    "apischemaviolation": _TYPE_MISMATCH,
    "invalidaddressbookids": _BOOK_MISSING,
    "addressbooknotfound": _BOOK_MISSING,
    "contactnotfound": _CONTACT_MISSING,
    "notreported": Reason(
        "Engagement Cloud finished the import but did not say what happened to this contact.",
        "Press Retry; it is sent again at the next sync.",
    ),
    "consentrecordsnotapplied": Reason(
        "The contact was saved, but Engagement Cloud did not accept its consent record.",
        "Check the consent wording on this tab (at most 1,000 characters), then press Retry.",
    ),
    "exceedsallowedcontactlimit": Reason(
        "The Engagement Cloud account has reached the number of contacts its plan allows.",
        "Remove unused contacts or upgrade the plan in Engagement Cloud, then press Retry.",
    ),
    "rejectedbywatchdog": Reason(
        "Engagement Cloud's import checks held back the batch this contact was in (too many "
        "addresses that look invalid or bought).",
        "Ask Engagement Cloud support to release imports for your account, then press Retry.",
    ),
    "failed": _IMPORT_NOT_PROCESSED,
    "invalidfileformat": _IMPORT_NOT_PROCESSED,
    "notavailableinthisversion": _IMPORT_NOT_PROCESSED,
    "toomanyactiveimports": Reason(
        "Engagement Cloud was busy with other imports for this account.",
        "Nothing to fix: it is sent again at the next sync.",
    ),
    # Insight data: orders and catalog (reference §7)
    "contactemaildoesnotexist": _CONTACT_MISSING,
    "contactiddoesnotexist": _CONTACT_MISSING,
    "contactphonenumberdoesnotexist": _CONTACT_MISSING,
    "contactcustomidentifiervaluedoesnotexist": _CONTACT_MISSING,
    "invalidcontactidentifier": _CONTACT_MISSING,
    "invalidcontactidentifiertype": _CONTACT_MISSING,
    "jsonvalueincompatiblewithschema": _TYPE_MISMATCH,
    "jsondoesnotmatchschema": _TYPE_MISMATCH,
    "inconsistenttypes": _TYPE_MISMATCH,
    "jsoncontainsdashunderscoreclash": _TYPE_MISMATCH,
    "invalidjson": _TOO_BIG,
    "badjson": _TOO_BIG,
    "jsonkeytoolong": _TOO_BIG,
    "jsonkeyinvalidcharacters": _TOO_BIG,
    "jsonvaluetoolong": _TOO_BIG,
    "jsonnumbervaluetoolarge": _TOO_BIG,
    "jsoncontainsnestedarray": _TOO_BIG,
    "toomanydistinctkeyvaluepairs": _TOO_BIG,
    "invalidclientkey": Reason(
        "The record has no usable key (order or product number), so Engagement Cloud cannot store it.",
        f"Check the record in your store, {RETRY}",
    ),
    "duplicatekey": Reason(
        "Engagement Cloud already holds a record with this number, for another contact.",
        "Delete the old record in Engagement Cloud (Insight data), then press Retry.",
        by_area={
            "orders": "Engagement Cloud already holds an order with this number, for another contact "
                      "(for example left by an earlier integration).",
        },
    ),
    "keyexistingfordifferentcontact": Reason(
        "Engagement Cloud already holds a record with this number, for another contact.",
        "Delete the old record in Engagement Cloud (Insight data), then press Retry.",
        by_area={"orders": "Engagement Cloud already holds an order with this number, for another contact."},
    ),
    "missingcollection": Reason(
        "The Insight collection this record belongs to does not exist in Engagement Cloud.",
        "Press Retry: the collection is created again with the next records sent.",
    ),
    "collectionnotfound": Reason(
        "The Insight collection this record belongs to does not exist in Engagement Cloud.",
        "Press Retry: the collection is created again with the next records sent.",
    ),
    "transactionaldatacollectiondoesnotexist": Reason(
        "The Insight collection this record belongs to does not exist in Engagement Cloud.",
        "Press Retry: the collection is created again with the next records sent.",
    ),
    "transactionaldatastorageallowanceexceeded": Reason(
        "The Engagement Cloud account has used all of its Insight data storage.",
        "Ask Engagement Cloud to raise the allowance or remove old Insight data, then press Retry.",
    ),
    "recordnotfound": Reason(
        "The record is no longer in Engagement Cloud.",
        "Nothing to fix: press Retry to send it again.",
    ),
    "featurenotactive": Reason(
        "This Engagement Cloud account does not have the feature this needs (Insight data, "
        "AccountInsight or programs).",
        "Ask Engagement Cloud support to enable it, then press Retry.",
    ),
    "unknown": Reason(
        "Engagement Cloud refused this record without saying why.",
        "Press Retry. If it is refused again, send the details below to Engagement Cloud support.",
    ),
    # programs and enrolments (reference §8)
    "programnotactive": _PROGRAM_NOT_ACTIVE,
    "programnotfound": Reason(
        "The program no longer exists in Engagement Cloud.",
        "Choose another program in the Automation section below; this enrolment cannot be sent.",
    ),
    "enrolmentinvalid": Reason(
        "Engagement Cloud found no contact to enrol in this request.",
        "Press Retry; if it is refused again, check the contact's own row in this list.",
    ),
    "enrolmentallowanceexceeded": Reason(
        "Engagement Cloud's hourly enrolment allowance was used up.",
        "Nothing to fix: enrolments wait for the allowance and go out by themselves.",
    ),
    "contacttoomany": Reason(
        "Too many contacts were sent in one enrolment.",
        "Press Retry: they are sent again in smaller batches.",
    ),
}

GENERIC = Reason(
    "Engagement Cloud refused this record.",
    "Check the record in your store; the details say what Engagement Cloud answered. "
    "Press Retry once it is fixed.",
    by_area={"enrolments": "Engagement Cloud refused this enrolment."},
)

# A leading "<code>:" (``contacts:invalidEmail: …``, ``InvalidEmail: …``, ``404: …``) or, anywhere,
# a v2 ``ERROR_*`` code or an identifier with a camel hump (``ContactEmailDoesNotExist``).
_LEADING = re.compile(r"\s*(?:[A-Za-z]+:)?([A-Za-z][A-Za-z0-9_]*|\d{3})\s*:")
_EMBEDDED = re.compile(r"\bERROR_[A-Z_]+\b|\b[a-zA-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+\b")


def normalise(code: str) -> str:
    """``ERROR_CONTACT_NOT_FOUND`` / ``contacts:contactNotFound`` / ``ContactNotFound`` → ``contactnotfound``."""
    word = code.rsplit(":", 1)[-1].strip().lower()
    word = re.sub(r"[^a-z0-9]", "", word)
    return word.removeprefix("error") if word.startswith("error") and len(word) > 5 else word


def codes_in(reason: str) -> tuple[list[str], bool]:
    """The service codes a stored reason carries, in order, and whether one is certainly a code
    (a leading ``<code>:`` or a v2 ``ERROR_*``) rather than a camel-cased word in a sentence."""
    found, certain = [], False
    for part in reason.split("; "):
        leading = _LEADING.match(part)
        if leading:
            found.append(leading.group(1))
            certain = True
        embedded = _EMBEDDED.findall(part)
        certain = certain or any(code.startswith("ERROR_") for code in embedded)
        found.extend(embedded)
    return list(dict.fromkeys(found)), certain


def explain(reason: str | None, area: str | None = None) -> Explanation | None:
    """A plain sentence and a fix for a reason this plugin stored; None when it carries no code
    (a sentence already, which the host shows as it is)."""
    if not reason:
        return None
    codes, certain = codes_in(reason)
    for code in codes:
        entry = TABLE.get(normalise(code))
        if entry is not None:
            return _explanation(entry, area, code)
    return _explanation(GENERIC, area, codes[0]) if certain else None


def _explanation(entry: Reason, area: str | None, code: str) -> Explanation:
    sentence = entry.by_area.get(area or "", entry.sentence)
    return Explanation(sentence=sentence, fix=entry.fix, code=code)

"""The back office: cases an office handles and 差评 follow-ups it owes, as operators see and move them.

A case's status is one of CASE_STATUSES (what a booth's progress query shows the citizen); moving it
to a CLOSING status stamps `closed_at`, from which personal data is erased after the retention time
(central.retention). Every change names its operator and is audited in the same transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from typing import Any

from sqlalchemy import Connection, and_, false, or_, select, update

from appliance.privacy import mask_id_number, mask_name, mask_phone
from appliance.receipt_numbers import LENGTH as RECEIPT_NUMBER_LENGTH
from central import audit
from central.accounts import User
from central.catalogue_names import CatalogueNames
from central.regions import in_regions
from central.tables import cases, devices, events, receipt_numbers

CASE_STATUSES = ("已受理", "审核中", "待补正", "已办结", "已退回", "不予受理")
CLOSING = frozenset({"已办结", "已退回", "不予受理"})  # the case is over: the clock of retention starts
MAX_NOTE = 500  # characters of a case note (the booth's progress answer shows it)
MAX_CASES = 500  # one page of a search: narrow it down rather than page through thousands


class CaseError(ValueError):
    """A case change central refuses; the message says why."""


@dataclass(frozen=True)
class CaseSearch:
    """Find cases by receipt number (the 16 digits a citizen reads out, or an older receipt's event id) or case
    number (`text`, a prefix is enough), item, booth, status and the day received (local dates, inclusive)."""

    text: str = ""
    item: str = ""
    device: str = ""
    status: str = ""
    since: date | None = None
    until: date | None = None


def find_cases(conn: Connection, user: User, names: CatalogueNames, search: CaseSearch,
               limit: int = MAX_CASES) -> list[dict[str, Any]]:
    """The cases matching `search` in the user's regions, newest first, without personal data."""
    query = (select(cases, devices.c.region, events.c.received_at.label("opened_at"), receipt_numbers.c.number)
             .join(devices, devices.c.id == cases.c.device)
             .join(events, and_(events.c.device == cases.c.device, events.c.id == cases.c.receipt))
             .outerjoin(receipt_numbers, _numbered)
             .where(in_regions(devices.c.region, user)))
    if search.text:
        text = search.text.strip().upper()
        digits = "".join(text.split())  # a receipt number read out on the phone comes in groups of four
        query = query.where(or_(cases.c.case_no.startswith(text), cases.c.receipt.startswith(text),
                                receipt_numbers.c.number.startswith(digits) if digits.isdigit() else false()))
    if search.item:
        query = query.where(cases.c.item == search.item)
    if search.device:
        query = query.where(cases.c.device == search.device)
    if search.status:
        query = query.where(cases.c.status == search.status)
    if search.since:
        query = query.where(events.c.received_at >= _midnight(search.since))
    if search.until:
        query = query.where(events.c.received_at < _midnight(search.until + timedelta(days=1)))
    rows = conn.execute(query.order_by(events.c.received_at.desc(), cases.c.id.desc()).limit(limit)).mappings()
    return [_case_row(row, names) for row in rows]


def case_detail(conn: Connection, user: User, names: CatalogueNames, number: str, address: str
                ) -> dict[str, Any] | None:
    """One case, by its case number or its receipt number (what the citizen's slip shows), with its
    applicant and form: in full for operators and admins, masked for viewers. Opening a case that
    still holds personal data is audited (who, when, from where, which case)."""
    if len(number) == RECEIPT_NUMBER_LENGTH and number.isdigit():  # the receipt number a person uses
        which = receipt_numbers.c.number == number
    else:
        which = cases.c.case_no == number if number.isdigit() else cases.c.receipt == number.upper()
    row = conn.execute(select(cases, devices.c.region, events.c.received_at.label("opened_at"), events.c.payload,
                              receipt_numbers.c.number)
                       .join(devices, devices.c.id == cases.c.device)
                       .join(events, and_(events.c.device == cases.c.device, events.c.id == cases.c.receipt))
                       .outerjoin(receipt_numbers, _numbered)
                       .where(which, in_regions(devices.c.region, user))
                       .order_by(receipt_numbers.c.conflict.is_(True), cases.c.id)).mappings().first()
    if row is None:
        return None
    case_no = row["case_no"]
    payload = row["payload"] if isinstance(row["payload"], dict) else {}
    applicant = payload.get("applicant") if isinstance(payload.get("applicant"), dict) else {}
    form = payload.get("form") if isinstance(payload.get("form"), dict) else {}
    erased = row["personal_erased_at"] is not None or applicant.get("erased") is True
    full = user.may("operator")
    shown = {
        **_case_row(row, names),
        "masked": not full,
        "applicant": None if erased else {
            "name": _shown(applicant.get("name"), mask_name, full),
            "id_number": _shown(applicant.get("id_number"), mask_id_number, full),
            "phone": _shown(form.get("phone"), mask_phone, full),
        },
        "form": None if erased else [{"key": key, "label": names.field(row["item"], key),
                                      "value": _shown(value, mask_phone if key == "phone" else mask_text, full)}
                                     for key, value in form.items()],
    }
    if not erased:
        audit.record(conn, user.name, "case_opened", case_no, address=address,
                     details={"masked": not full})
    return shown


def set_status(conn: Connection, user: User, case_no: str, status: str, note: str, address: str,
               now: float | None = None) -> dict[str, Any]:
    """Move a case on: what the booths' progress queries show the citizen next. Audited."""
    if status not in CASE_STATUSES:
        raise CaseError(f"status {status!r} is not one of {'、'.join(CASE_STATUSES)}")
    note = " ".join(note.split())  # one line: the booth shows it on one
    if len(note) > MAX_NOTE:
        raise CaseError(f"the note is {len(note)} characters; a citizen reads at most {MAX_NOTE} at the booth")
    now = time.time() if now is None else now
    row = conn.execute(select(cases.c.id, cases.c.status, cases.c.closed_at)
                       .join(devices, devices.c.id == cases.c.device)
                       .where(cases.c.case_no == case_no, in_regions(devices.c.region, user))).first()
    if row is None:
        raise LookupError(f"no case {case_no!r}")
    closed_at = row.closed_at if status in CLOSING else None
    if status in CLOSING and row.closed_at is None:
        closed_at = now
    conn.execute(update(cases).where(cases.c.id == row.id).values(
        status=status, note=note, updated_at=now, updated_by=user.name, closed_at=closed_at))
    audit.record(conn, user.name, "case_status", case_no, address=address, at=now,
                 details={"from": row.status, "to": status, "note": note})
    return {"case_no": case_no, "status": status, "note": note, "updated_at": now, "closed_at": closed_at}


def mask_text(value: Any) -> str:
    text = str(value)
    return text[:1] + "*" * (len(text) - 1) if text else text


def _shown(value: Any, mask, full: bool) -> str | None:
    if value is None:
        return None
    return str(value) if full else mask(str(value))


_numbered = and_(receipt_numbers.c.device == cases.c.device, receipt_numbers.c.event == cases.c.receipt)


def _case_row(row: Any, names: CatalogueNames) -> dict[str, Any]:
    return {"case_no": row["case_no"], "receipt": row["receipt"], "number": row["number"], "device": row["device"],
            "region": row["region"],
            "item": row["item"], "item_name": names.item(row["item"]), "department": names.department(row["item"]),
            "status": row["status"], "note": row["note"], "opened_at": row["opened_at"],
            "updated_at": row["updated_at"], "updated_by": row["updated_by"], "closed_at": row["closed_at"],
            "personal_erased": row["personal_erased_at"] is not None}


def _midnight(day: date) -> float:
    return datetime.combine(day, clock()).timestamp()

"""Personal data is kept no longer than needed (issue 14, point 7).

An applicant's name, ID number, address, phone and whatever else they typed travel in the `payload` of
`submission` events (`applicant`, `form`) and of `appointment` events (`applicant`). Central keeps them
while the office may still need them, and `erase_expired` removes them afterwards:

- a submission: `settings.personal_data_days` after its case closed (`cases.closed_at`, stamped when an
  operator moves it to a status in `central.backoffice.CLOSING`); the case is stamped `personal_erased_at`;
- an appointment: that many days after its day (payload `day`, an ISO date) has passed;
- a dead letter (raw bytes that may hold a submission): that many days after central received it;
- an assist request's call-back number (sealed in `assists.phone_sealed`): erased when the request is
  closed (central.assist_desk), and here that many days after it was made if nobody ever closed it;
- the keyed digest of an applicant's ID number beside a receipt number (`receipt_numbers.holder`,
  central.receipts): with the submission's or appointment's personal data.

What is erased is replaced, not deleted: the event, the case with its status and number, the ratings,
usage counts and every statistic stay. In an erased payload only fields known to hold no personal data
are kept as they were (`KEPT`); `applicant` becomes `{"erased": true}`; a map such as `form` keeps its
keys, each with the value "(erased)" (the ledger can still tell which fields were filled); any other
field keeps its name with "(erased)". A field list of what is safe to keep (rather than of what is
personal) means a field a newer booth adds is erased too, until someone decides otherwise.

Each call does bounded work (`limit` rows of each kind) in the caller's transaction and returns what it
erased; `more` says a bound was reached and the caller should call again soon. It is idempotent: what
is erased is not found again. One audit line per call that erased something (never a name or a number
of a citizen in it; case numbers are the office's own). A call that erased nothing writes no line: an
hourly "nothing to do" would bury the lines that matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Column, Connection, bindparam, or_, select, update

from central import audit
from central.database import Database
from central.tables import assists, cases, dead_letters, events, receipt_numbers

LIMIT = 1_000  # rows of each kind per call: one call stays a short transaction; the caller calls again
ERASED = "(erased)"
ERASED_APPLICANT = {"erased": True}
KEPT = {  # per event kind: payload fields that hold no personal data and stay as they were
    "submission": frozenset({"item", "session"}),
    "appointment": frozenset({"item", "day", "half", "session"}),
}
# An appointment is booked at most two weeks ahead (appliance.kiosk.BOOKING_HORIZON_DAYS), so its day
# comes within that of its receipt. One whose `day` is unreadable or far ahead of its receipt (a booth
# whose clock was years off) is erased this long after its receipt plus the retention time, whatever
# its day says.
APPOINTMENT_SLACK_DAYS = 31
DAY_S = 86_400


@dataclass(frozen=True)
class Erased:
    """What one call erased."""

    cases: tuple[str, ...] = ()  # case numbers whose submission lost its personal data
    appointments: int = 0
    dead_letters: int = 0
    assist_numbers: int = 0  # call-back numbers of assist requests never closed
    more: bool = False  # a bound was reached: there may be more to erase now

    @property
    def total(self) -> int:
        return len(self.cases) + self.appointments + self.dead_letters + self.assist_numbers


def erase_expired(db: Database, conn: Connection, now: float, days: int, limit: int = LIMIT) -> Erased:
    """Erase the personal data whose time is up (see the module's doc), in `conn`'s transaction."""
    if days < 1:
        raise ValueError(f"personal data is kept at least one day, not {days!r}")
    before = now - days * DAY_S
    erased_cases, more_cases = _erase_cases(conn, before, now, limit)
    appointments, more_appointments = _erase_appointments(conn, now, days, limit)
    letters, more_letters = _erase_column(conn, dead_letters.c.payload, dead_letters.c.received_at, before, limit)
    numbers, more_numbers = _erase_column(conn, assists.c.phone_sealed, assists.c.made_at, before, limit)
    erased = Erased(tuple(erased_cases), appointments, letters, numbers,
                    more_cases or more_appointments or more_letters or more_numbers)
    if erased.total:
        audit.record(conn, audit.SYSTEM, "personal_data_erased", at=now, details={
            "cases": len(erased.cases), "case_numbers": list(erased.cases), "appointments": erased.appointments,
            "dead_letters": erased.dead_letters, "assist_numbers": erased.assist_numbers, "days": days})
    return erased


def erased_payload(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """`payload` without its personal data (see the module's doc); erasing twice changes nothing more."""
    kept = KEPT[kind]
    result: dict[str, Any] = {}
    for key, value in payload.items():
        if key in kept:
            result[key] = value
        elif key == "applicant":
            result[key] = dict(ERASED_APPLICANT)
        elif isinstance(value, dict):
            result[key] = {str(name): ERASED for name in value}
        else:
            result[key] = ERASED
    result["applicant"] = dict(ERASED_APPLICANT)  # also the mark that this payload is done
    return result


_rewrite = update(events).where(events.c.device == bindparam("b_device"), events.c.id == bindparam("b_id")) \
    .values(payload=bindparam("b_payload"))


def _erase_cases(conn: Connection, closed_before: float, now: float, limit: int) -> tuple[list[str], bool]:
    due = conn.execute(
        select(cases.c.id, cases.c.case_no, events.c.device, events.c.id.label("event"), events.c.kind,
               events.c.payload)
        .join(events, (events.c.device == cases.c.device) & (events.c.id == cases.c.receipt))
        .where(cases.c.closed_at < closed_before, cases.c.personal_erased_at.is_(None))
        .order_by(cases.c.closed_at, cases.c.id).limit(limit + 1)).mappings().all()
    more, due = len(due) > limit, due[:limit]
    if not due:
        return [], False
    # Claim the cases first: another central instance running the same sweep erases each case once
    # (the second waits on the row locks, then finds personal_erased_at set and claims nothing).
    claimed = set(conn.execute(
        update(cases).where(cases.c.id.in_([row["id"] for row in due]), cases.c.personal_erased_at.is_(None))
        .values(personal_erased_at=now).returning(cases.c.id)).scalars())
    mine = [row for row in due if row["id"] in claimed]
    rewrites = [{"b_device": row["device"], "b_id": row["event"],
                 "b_payload": erased_payload("submission", row["payload"] if isinstance(row["payload"], dict) else {})}
                for row in mine]
    if rewrites:
        conn.execute(_rewrite, rewrites)
        _forget_holders(conn, rewrites)
    return [row["case_no"] or str(row["id"]) for row in mine], more


def _erase_appointments(conn: Connection, now: float, days: int, limit: int) -> tuple[int, bool]:
    # The day has passed when it is before today; `days` later its data goes: day < today - days.
    cutoff = (date.fromtimestamp(now) - timedelta(days=days)).isoformat()
    day = events.c.payload["day"].as_string()
    not_erased = events.c.payload[("applicant", "erased")].as_string().is_(None)
    due = conn.execute(
        select(events.c.device, events.c.id, events.c.payload)
        .where(events.c.kind == "appointment", not_erased,
               or_(day < cutoff, events.c.received_at < now - (days + APPOINTMENT_SLACK_DAYS) * DAY_S))
        .order_by(events.c.received_at, events.c.id).limit(limit + 1)).mappings().all()
    more, due = len(due) > limit, due[:limit]
    if due:
        rewrites = [
            {"b_device": row["device"], "b_id": row["id"],
             "b_payload": erased_payload("appointment", row["payload"] if isinstance(row["payload"], dict) else {})}
            for row in due]
        conn.execute(_rewrite, rewrites)
        _forget_holders(conn, rewrites)
    return len(due), more


_forget_holder = update(receipt_numbers).where(receipt_numbers.c.device == bindparam("b_device"),
                                               receipt_numbers.c.event == bindparam("b_id")).values(holder=None)


def _forget_holders(conn: Connection, rewrites: list[dict[str, Any]]) -> None:
    """The keyed digest of each erased applicant's ID number (central.receipts) goes with their data: their ID
    card no longer finds the case, its receipt number still does."""
    conn.execute(_forget_holder, [{"b_device": r["b_device"], "b_id": r["b_id"]} for r in rewrites])


def _erase_column(conn: Connection, column: Column, stamp: Column, before: float, limit: int) -> tuple[int, bool]:
    """Set `column` to NULL in the rows whose `stamp` is before `before` (dead letters' bytes, assist
    requests' sealed numbers): a bounded batch, and whether more are due."""
    table = column.table
    due = conn.execute(select(table.c.id).where(column.is_not(None), stamp < before)
                       .order_by(table.c.id).limit(limit + 1)).scalars().all()
    more, due = len(due) > limit, due[:limit]
    if not due:
        return 0, False
    done = conn.execute(update(table).where(table.c.id.in_(due), column.is_not(None))
                        .values({column.name: None})).rowcount
    return done, more

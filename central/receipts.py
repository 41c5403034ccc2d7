"""Receipt numbers at central (issue 18): what a citizen asks their case by, at any booth.

Booths number every submission and appointment themselves, offline (appliance/receipt_numbers.py: day,
booth code, the booth's daily sequence, a Damm check digit). Central keeps each number beside its event
(`receipt_numbers`), with the keyed digest of the applicant's ID number (`holder`), and answers a booth's
`progress/request`:

- by `number` (16 digits): the case, or the appointment, of that number;
- by `case` (an older receipt's event id): as before numbers (central.database.Database.progress);
- by `holder` (the digest of the ID number of the card placed on the booth's reader): that citizen's own
  cases and appointments, newest first, at most `MAX_CASES` — each with what its receipt shows (number,
  item, when filed) and where it stands, never a name, an ID number or what the form said;
- `want: holder_key`: the key booths make digests with. It is derived from `--personal-data-key` (every
  instance on one database has the same file, so the same key) and goes only to booths, over their TLS link
  and their ACL-confined answer topic. A booth keeps it in memory; the ID number itself never travels for a
  lookup.

A number is unique as long as booth codes are. The first booth whose numbers carry a code owns it
(`booth_codes`); another booth's numbers with that code are recorded but flagged (`conflict`: found by the
ID card and at the booth that filed them, not by the number), and an alert on that booth says so until it
is given a code of its own. A number already held by another event (a booth whose state database was lost
starts its sequences again) is flagged the same way, with an alert that ends by itself after a week. The
holder digest is erased with the applicant's personal data (central.retention).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, exists, select, update

from appliance.contract import iso
from appliance.receipt_numbers import booth_of, holder_digest
from appliance.state.sealing import SealError, load_or_create_key
from central.alerts import Condition
from central.database import Database, citizen_time
from central.settings import SettingsError
from central.tables import booth_codes, cases, events, receipt_numbers

NUMBERED = ("submission", "appointment")
MAX_CASES = 20
CODE_CLASH = "booth_code_conflict"
NUMBER_REUSED = "receipt_number_reused"
REUSED_ALERT_S = 7 * 86_400
APPOINTMENT_STATUS = "已预约"
HALF_DAYS = {"am": "上午", "pm": "下午"}
_LABEL = b"kiosk/v1 holder lookup key"


class LookupKey:
    """Central's key for the digests of citizens' ID numbers: HMAC of a fixed label with the personal-data key
    file's key (read when first needed), so the sealing key itself never leaves central."""

    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def get(self) -> bytes:
        with self._lock:
            if self._key is None:
                try:
                    sealing = load_or_create_key(self.key_file)
                except OSError as exc:
                    raise SettingsError(f"--personal-data-key {self.key_file}: {exc.strerror or exc}") from None
                except SealError as exc:
                    raise SettingsError(f"--personal-data-key {self.key_file}: {exc}") from None
                self._key = hmac.new(sealing, _LABEL, hashlib.sha256).digest()
            return self._key

    def for_booth(self) -> str:
        return base64.b64encode(self.get()).decode()


def record(db: Database, conn: Connection, key: LookupKey, new: list[tuple[str, dict[str, Any], float]]) -> int:
    """Keep the number of each newly recorded numbered event (device, envelope, received); returns how many
    were flagged as conflicts."""
    flagged = 0
    for device, envelope, now in new:
        payload = envelope["payload"]
        number = payload.get("number")
        if envelope["kind"] not in NUMBERED or not isinstance(number, str):
            continue
        id_number = (payload.get("applicant") or {}).get("id_number")
        holder = holder_digest(key.get(), id_number) if isinstance(id_number, str) and id_number else None
        code = booth_of(number)
        owner = _claim(db, conn, code, device, now)
        taken = conn.execute(select(exists().where(
            receipt_numbers.c.number == number, receipt_numbers.c.conflict.is_(False),
            ~and_(receipt_numbers.c.device == device, receipt_numbers.c.event == envelope["id"])))).scalar()
        conflict = owner != device or bool(taken)
        conn.execute(db.insert_ignore(receipt_numbers), {
            "device": device, "event": envelope["id"], "number": number, "kind": envelope["kind"], "holder": holder,
            "filed_at": citizen_time(envelope, now), "conflict": conflict})
        clash = {} if owner == device else {CODE_CLASH: Condition(
            "error", f"booth code {code} belongs to booth {owner}: give this booth a code of its own "
                     "([device] booth_code); until then its receipt numbers are not found by number")}
        db.sync_alerts(conn, device, "booth_code", clash, now)
        if taken and owner == device:
            db.open_alert(conn, device, "receipt_number", NUMBER_REUSED, Condition(
                "warning", "a receipt number this booth printed was already another filing's (was its state "
                           "database replaced?): that receipt is found by the ID card, not by its number",
                until=now + REUSED_ALERT_S), now)
        flagged += conflict
    return flagged


def _claim(db: Database, conn: Connection, code: str, device: str, now: float) -> str:
    """The booth that owns `code`: the first whose numbers carried it (this one, if none did before)."""
    conn.execute(db.insert_ignore(booth_codes), {"code": code, "device": device, "first_seen": now})
    return conn.execute(select(booth_codes.c.device).where(booth_codes.c.code == code)).scalar_one()


def by_number(conn: Connection, number: str, device: str) -> dict[str, Any] | None:
    """What a booth's citizen is told of a receipt number: asked at the booth that filed it, that booth's own
    filing even if flagged; elsewhere the one unflagged filing of that number."""
    query = (select(receipt_numbers).where(receipt_numbers.c.number == number,
                                           receipt_numbers.c.conflict.is_(False) | (receipt_numbers.c.device == device))
             .order_by(receipt_numbers.c.device != device, receipt_numbers.c.filed_at))
    row = conn.execute(query).mappings().first()
    return None if row is None else _described(conn, [dict(row)])[0]


def by_holder(conn: Connection, holder: str) -> list[dict[str, Any]]:
    """One citizen's numbered cases and appointments, newest first (at most `MAX_CASES`)."""
    rows = conn.execute(select(receipt_numbers).where(receipt_numbers.c.holder == holder)
                        .order_by(receipt_numbers.c.filed_at.desc()).limit(MAX_CASES)).mappings().all()
    return _described(conn, [dict(row) for row in rows])


def _described(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each filing as a booth shows it: what its receipt shows (number, item, when filed) and where it stands
    (a case's status, time and note; an appointment's day), never anything personal."""
    described = []
    for row in rows:
        answer: dict[str, Any] = {"number": row["number"], "kind": row["kind"], "filed": iso(row["filed_at"])}
        if row["kind"] == "submission":
            case = conn.execute(select(cases.c.case_no, cases.c.item, cases.c.status, cases.c.note, cases.c.updated_at)
                                .where(cases.c.device == row["device"], cases.c.receipt == row["event"])
                                ).mappings().first()
            if case is None:
                continue
            note = f"办件编号 {case['case_no']}" + (f"；{case['note']}" if case["note"] else "")
            answer.update(item=case["item"], status=case["status"], updated=iso(case["updated_at"]), note=note,
                          case_no=case["case_no"])
        else:
            payload = conn.execute(select(events.c.payload).where(
                events.c.device == row["device"], events.c.id == row["event"])).scalar_one()
            day, half = str(payload.get("day", "")), str(payload.get("half", ""))
            answer.update(item=str(payload.get("item", "")), status=APPOINTMENT_STATUS, day=day, half=half,
                          note=f"{day} {HALF_DAYS.get(half, '')}".strip(), past=_past(day))
        described.append(answer)
    return described


def _past(day: str) -> bool:
    try:
        return date.fromisoformat(day) < date.today()
    except ValueError:
        return False


def erase_holders(conn: Connection, erased: list[tuple[str, str]]) -> None:
    """The applicant's personal data of these (device, event) was erased: their digests go with it."""
    for device, event in erased:
        conn.execute(update(receipt_numbers).where(receipt_numbers.c.device == device, receipt_numbers.c.event == event)
                     .values(holder=None))

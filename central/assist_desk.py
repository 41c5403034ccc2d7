"""The assist desk (帮办代办): a citizen's call for help reaches a person, and the booth hears what became of it.

A request is put on the desk by the intake, in the transaction that records its `assist` event, and answered
`queued` to its booth after the commit (and again, as it stands then, whenever the booth sends it again).
An operator takes it (someone is coming, or will call back within N minutes) and closes it with an outcome
and a note; both are audited and answered to the booth. A request nobody took within `assist_escalation_s`
of when the desk could first see it is escalated: flagged, an alert on its booth (closed once none of the
booth's escalated requests waits any more), and answered `escalated`, so the booth offers the 12345 hotline.
Outside the staff hours (`--staff-hours`, on working days) an on-site request becomes a call back, and it is
not escalated before the desk is staffed again (then after the escalation time).

The call-back number is personal data: sealed with AES-GCM under the key file `--personal-data-key` (shared by
every instance on the database), bound to its booth and request, shown only to operators (each look
audited), erased when the request closes, and never put into the event, a log line, an audit line, usage or
the 台账.

Everything here works in the caller's transaction and returns the answers to publish after the commit
(topic, body): published before it, a booth could hear of a change that is then rolled back.
"""

from __future__ import annotations

import statistics
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, select, true, update

from appliance.contract import (
    ASSIST_OUTCOMES,
    AssistMode,
    AssistState,
    assist_answer,
    assist_answer_topic,
    iso,
)
from appliance.privacy import mask_phone
from appliance.state.sealing import Sealer, SealError, load_or_create_key
from central import audit
from central.accounts import User
from central.alerts import desk_conditions
from central.catalogue_names import CatalogueNames
from central.database import Database, citizen_time
from central.regions import in_regions
from central.settings import CentralSettings, SettingsError
from central.tables import assists, devices, users
from central.workdays import next_staffed

Answer = tuple[str, dict[str, Any]]  # (topic, body) to publish after the commit

DEFAULT_CALL_BACK_MIN = 15  # a call back promised within this many minutes unless the operator says otherwise
MAX_NOTE = 500
OPEN_SHOWN = 200  # the oldest open requests the desk lists (open_count says how many there are)
RECENT_SHOWN = 50
RECENT_S = 86_400  # closed requests stay on the desk's "recent" list this long
ESCALATE_BATCH = 500  # requests one sweep escalates at most (the next sweep takes the rest)
ALERT_SOURCE = "desk"
MAX_AGE_S = 7 * 86_400  # an unsynchronised booth's event older than this (by its own clock) is counted this old
# The outcomes in words: the desk page (common.js ASSIST_OUTCOMES), the usage page and the 台账 say exactly these.
OUTCOME_NAMES = {"helped_on_site": "现场帮办", "called_back": "已回电", "no_answer": "未接通",
                 "citizen_gone": "群众已离开"}
assert tuple(OUTCOME_NAMES) == ASSIST_OUTCOMES, "every outcome of the contract has its words, in its order"
NO_ITEM = "未选事项"  # a request made before the citizen picked an item (the desk's words too)

_open = assists.c.closed_at.is_(None)
_untaken = assists.c.taken_at.is_(None)
_waiting_escalated = and_(_open, _untaken, assists.c.escalated_at.is_not(None))


class DeskConflict(Exception):
    """The request cannot be taken or closed as asked (taken by someone else, closed already): HTTP 409."""


class PhoneSeal:
    """AES-GCM sealing of call-back numbers with the key file every central instance shares (made, 0600,
    when missing). The key is read when first needed; `serve` calls `load` at start, so a bad path stops
    central at once instead of at the first call back."""

    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file
        self._sealer: Sealer | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        self._get()

    def _get(self) -> Sealer:
        with self._lock:
            if self._sealer is None:
                try:
                    self._sealer = Sealer(load_or_create_key(self.key_file))
                except OSError as exc:
                    raise SettingsError(f"--personal-data-key {self.key_file}: {exc.strerror or exc}") from None
                except SealError as exc:
                    raise SettingsError(f"--personal-data-key {self.key_file}: {exc}") from None
            return self._sealer

    def seal(self, phone: str, device: str, request: str) -> bytes:
        return self._get().seal(phone.encode(), _bound_to(device, request))

    def open(self, sealed: bytes, device: str, request: str) -> str:
        """The number; SealError when this key did not seal it for this very request."""
        return self._get().open(sealed, _bound_to(device, request)).decode()


def _bound_to(device: str, request: str) -> bytes:
    """The associated data: a sealed number opens only on its own row (its booth's request)."""
    return f"assist/{device}/{request}".encode()


class AssistDesk:
    """The desk's rules, on central's database, with the office's settings (escalation time, staff hours)."""

    def __init__(self, db: Database, settings: CentralSettings, seal: PhoneSeal | None = None) -> None:
        self.db = db
        self.settings = settings
        self.seal = seal or PhoneSeal(settings.personal_data_key)

    @property
    def escalate_after_s(self) -> int:
        return self.settings.assist_escalation_s

    def staffed_from(self, at: float) -> float:
        """`at` when the desk is staffed then, else when it next is."""
        return next_staffed(at, self.settings.staff_hours, self.settings.holidays)

    # -- the intake's side ---------------------------------------------------------------------------------
    def record(self, conn: Connection, device: str, envelope: dict[str, Any], received: float,
               phone: str | None) -> Answer:
        """Put a new assist event's request on the desk (its payload read by central.messages; the phone
        apart, never in the event); the booth's `queued` answer."""
        payload, request = envelope["payload"], envelope["id"]
        booth = conn.execute(select(devices.c.site, devices.c.region).where(devices.c.id == device)).one()
        desk_from = self.staffed_from(received)
        outside = desk_from > received
        conn.execute(self.db.insert_ignore(assists), {
            "device": device, "request": request, "site": payload.get("site") or booth.site, "region": booth.region,
            "item": payload.get("item") or None, "screen": payload["screen"], "requested_mode": payload["mode"],
            "mode": AssistMode.CALL_BACK.value if outside else payload["mode"],
            "phone_sealed": self.seal.seal(phone, device, request) if phone else None,
            "made_at": asked_at(envelope, received), "received_at": received, "desk_from": desk_from,
            "outside_hours": outside})
        found = self.answer(conn, device, request, received)
        assert found is not None  # inserted just now, or by another instance a moment ago
        return found

    def answer(self, conn: Connection, device: str, request: str, now: float) -> Answer | None:
        """The answer for a request as it stands (a booth sent it again); None when it is not on the desk
        (recorded before the desk existed)."""
        row = conn.execute(_rows().where(assists.c.device == device, assists.c.request == request)).mappings().first()
        return None if row is None else self._answer(row, now)

    def escalate(self, conn: Connection, now: float) -> list[Answer]:
        """Escalate the requests nobody took within the escalation time of when the desk could see them:
        each is claimed once (several instances sweep), its booth's alert opened, its booth answered."""
        due = conn.execute(select(assists.c.id).where(
            _open, _untaken, assists.c.escalated_at.is_(None), assists.c.desk_from <= now - self.escalate_after_s)
            .order_by(assists.c.made_at).limit(ESCALATE_BATCH)).scalars().all()
        if not due:
            return []
        claimed = conn.execute(update(assists).where(assists.c.id.in_(due), _open, _untaken,
                                                     assists.c.escalated_at.is_(None))
                               .values(escalated_at=now).returning(assists.c.id, assists.c.device)).all()
        for device in sorted({device for _id, device in claimed}):
            self._sync_alert(conn, device, now)
        rows = conn.execute(_rows().where(assists.c.id.in_([assist_id for assist_id, _ in claimed]))).mappings().all()
        return [self._answer(row, now) for row in rows]

    # -- the operators' side ------------------------------------------------------------------------------
    def take(self, conn: Connection, user: User, assist_id: int, call_back_within_min: int | None, address: str,
             now: float) -> tuple[Mapping[str, Any], Answer | None]:
        """`user` takes the request: (its row now, the booth's `taken` answer). Taking one's own request again
        changes nothing (no answer); LookupError outside the user's regions, DeskConflict when someone
        else took it or it is closed."""
        row = self._one(conn, assist_id, user)
        if row["closed_at"] is not None:
            raise DeskConflict(f"request {assist_id} is closed already")
        if row["taken_by"] is not None:
            if row["taken_by"] != user.name:
                raise DeskConflict(f"request {assist_id} was taken by {row['taken_by_name'] or row['taken_by']}")
            return row, None
        within = (call_back_within_min or DEFAULT_CALL_BACK_MIN) if row["mode"] == AssistMode.CALL_BACK else None
        if not conn.execute(update(assists).where(assists.c.id == assist_id, _untaken, _open).values(
                taken_at=now, taken_by=user.name, call_back_within_min=within)).rowcount:
            raise DeskConflict(f"request {assist_id} was taken or closed a moment ago")
        self._sync_alert(conn, row["device"], now)
        audit.record(conn, user.name, "assist_take", str(assist_id), address=address, at=now, details={
            "device": row["device"], "request": row["request"], "mode": row["mode"],
            **({"call_back_within_min": within} if within else {})})
        row = self._one(conn, assist_id, user)
        return row, self._answer(row, now)

    def close(self, conn: Connection, user: User, assist_id: int, outcome: str, note: str, address: str,
              now: float) -> tuple[Mapping[str, Any], Answer]:
        """`user` closes the request with an outcome and a note (taken or not: a citizen may have gone); its
        call-back number is erased, and masked in the note if the note quotes it. DeskConflict if closed."""
        if outcome not in ASSIST_OUTCOMES:
            raise ValueError(f"outcome {outcome!r} is not one of {', '.join(ASSIST_OUTCOMES)}")
        note = " ".join(note.split())
        if len(note) > MAX_NOTE:
            raise ValueError(f"the note is {len(note)} characters; at most {MAX_NOTE}")
        row = self._one(conn, assist_id, user)
        if row["closed_at"] is not None:
            raise DeskConflict(f"request {assist_id} is closed already")
        phone = self._phone_of(row)
        if phone:
            note = note.replace(phone, mask_phone(phone))
        if not conn.execute(update(assists).where(assists.c.id == assist_id, _open).values(
                closed_at=now, closed_by=user.name, outcome=outcome, note=note, phone_sealed=None)).rowcount:
            raise DeskConflict(f"request {assist_id} was closed a moment ago")
        self._sync_alert(conn, row["device"], now)
        audit.record(conn, user.name, "assist_close", str(assist_id), address=address, at=now, details={
            "device": row["device"], "request": row["request"], "outcome": outcome, "note": note})
        row = self._one(conn, assist_id, user)
        return row, self._answer(row, now)

    def phone(self, conn: Connection, user: User, assist_id: int, address: str) -> str:
        """The call-back number, for an operator (the caller checks the role); the look is audited.
        LookupError when there is none (never given, or erased at closing)."""
        row = self._one(conn, assist_id, user)
        if row["phone_sealed"] is None:
            raise LookupError(f"request {assist_id} has no call-back number (none was given, or it was erased "
                              "when the request closed)")
        phone = self.seal.open(row["phone_sealed"], row["device"], row["request"])
        audit.record(conn, user.name, "assist_phone_viewed", str(assist_id), address=address,
                     details={"device": row["device"], "request": row["request"]})
        return phone

    # -- what the dashboard shows -------------------------------------------------------------------------
    def view(self, conn: Connection, user: User, names: CatalogueNames, now: float) -> dict[str, Any]:
        """The desk for the user's regions: open requests oldest first, those closed in the last day newest
        first, the counts, and whether the desk is staffed now."""
        mine = in_regions(assists.c.region, user)
        waiting = conn.execute(_rows().where(_open, mine).order_by(assists.c.made_at, assists.c.id)
                               .limit(OPEN_SHOWN)).mappings().all()
        recent = conn.execute(_rows().where(assists.c.closed_at >= now - RECENT_S, mine)
                              .order_by(assists.c.closed_at.desc(), assists.c.id.desc())
                              .limit(RECENT_SHOWN)).mappings().all()
        counts = desk_counts(conn, user)
        staffed_from = self.staffed_from(now)
        hours = self.settings.staff_hours
        return {"open": [shown(row, names, now) for row in waiting],
                "recent": [shown(row, names, now) for row in recent],
                "escalate_after_s": self.escalate_after_s, "open_count": counts["open"],
                "escalated_count": counts["escalated"], "staffed_now": staffed_from <= now,
                "staffed_from": None if staffed_from <= now else iso(staffed_from, "seconds"),
                "staff_hours": None if hours is None else f"{hours[0]:%H:%M}-{hours[1]:%H:%M}"}

    # -- helpers ------------------------------------------------------------------------------------------
    def _one(self, conn: Connection, assist_id: int, user: User) -> Mapping[str, Any]:
        """One request in the user's regions; LookupError otherwise (another region's is not confirmed)."""
        row = conn.execute(_rows().where(assists.c.id == assist_id, in_regions(assists.c.region, user))
                           ).mappings().first()
        if row is None:
            raise LookupError(f"no assist request {assist_id}")
        return row

    def _phone_of(self, row: Mapping[str, Any]) -> str | None:
        """The row's number, or None (none, or sealed under another key: it is erased all the same)."""
        if row["phone_sealed"] is None:
            return None
        try:
            return self.seal.open(row["phone_sealed"], row["device"], row["request"])
        except SealError:
            return None

    def _sync_alert(self, conn: Connection, device: str, now: float) -> None:
        """The booth's desk alert open exactly while one of its escalated requests waits untaken."""
        waiting = conn.execute(select(func.count()).select_from(assists).where(
            assists.c.device == device, _waiting_escalated)).scalar_one()
        self.db.sync_alerts(conn, device, ALERT_SOURCE, desk_conditions(waiting, self.escalate_after_s), now)

    def _answer(self, row: Mapping[str, Any], now: float) -> Answer:
        """The booth's answer for the request as it stands."""
        mode = AssistMode(row["mode"])
        fields: dict[str, Any]
        if row["closed_at"] is not None:
            state, fields = AssistState.CLOSED, {"outcome": row["outcome"], "operator": row["closed_by_name"]}
        elif row["taken_at"] is not None:
            state, fields = AssistState.TAKEN, {"operator": row["taken_by_name"]}
            if row["call_back_within_min"]:
                fields["call_back_within_min"] = row["call_back_within_min"]
        elif row["escalated_at"] is not None:
            state, fields = AssistState.ESCALATED, {"waited_s": waited_s(row, now)}
        else:
            state, fields = AssistState.QUEUED, {"escalate_after_s": self.escalate_after_s,
                                                 "waited_s": waited_s(row, now)}
            if row["desk_from"] > now:
                fields.update(outside_hours=True, staffed_from=iso(row["desk_from"], "seconds"))
        return assist_answer_topic(row["device"]), assist_answer(row["request"], state, mode, **fields)


def asked_at(envelope: Mapping[str, Any], received: float) -> float:
    """When the citizen asked: the booth's `created` when its clock was synchronised (central.database.
    citizen_time). Otherwise its clock may be off by any amount, but `ts - created` (both from that clock) is
    how old the event was when it was sent: made_at = received − clamp(ts − created, 0, 7 days). When the
    clock was synchronised between the two (`ts` synchronised, `created` not), the difference holds the
    clock's jump: unknowable, so the receipt time (an estimate on the late side)."""
    if envelope.get("created_clock_synced") is True or envelope.get("clock_synced") is True:
        return citizen_time(envelope, received)
    try:
        age = (datetime.fromisoformat(envelope["ts"]) - datetime.fromisoformat(envelope["created"])).total_seconds()
    except (KeyError, TypeError, ValueError):
        return received
    return received - min(max(age, 0.0), MAX_AGE_S)


def _rows():
    """Requests with the display names of who took and who closed them (the user name without one)."""
    taker, closer = users.alias("taker"), users.alias("closer")
    return (select(assists, func.coalesce(taker.c.display_name, assists.c.taken_by).label("taken_by_name"),
                   func.coalesce(closer.c.display_name, assists.c.closed_by).label("closed_by_name"))
            .select_from(assists.outerjoin(taker, taker.c.name == assists.c.taken_by)
                         .outerjoin(closer, closer.c.name == assists.c.closed_by)))


def waited_s(row: Mapping[str, Any], now: float) -> int:
    """How long the citizen waited, whole seconds: until the request was taken (or closed untaken), or until now."""
    end = row["taken_at"] or row["closed_at"] or now
    return max(0, int(end - row["made_at"]))


def take_s(row: Mapping[str, Any]) -> int | None:
    """The time to take a request, whole seconds (cut, as `waited_s`): from when the desk could see it (its
    arrival, or the start of the staff hours) to its taking; None if nobody took it. The desk's 接单用时, the
    usage page's and the 台账's median are all this."""
    if row["taken_at"] is None:
        return None
    return max(0, int(row["taken_at"] - row["desk_from"]))


def state_of(row: Mapping[str, Any]) -> str:
    return "closed" if row["closed_at"] is not None else "taken" if row["taken_at"] is not None else "open"


def shown(row: Mapping[str, Any], names: CatalogueNames, now: float) -> dict[str, Any]:
    """A request as the dashboard shows it: never its phone, only whether it has one."""
    return {"id": row["id"], "request": row["request"], "device": row["device"], "site": row["site"],
            "region": row["region"], "item": row["item"], "item_name": names.item(row["item"] or ""),
            "screen": row["screen"], "mode": row["mode"], "requested_mode": row["requested_mode"],
            "outside_hours": row["outside_hours"], "has_phone": row["phone_sealed"] is not None,
            "made_at": iso(row["made_at"], "seconds"), "waited_s": waited_s(row, now),
            "escalated": row["escalated_at"] is not None, "state": state_of(row), "taken_by": row["taken_by"],
            "taken_by_name": row["taken_by_name"], "taken_at": _stamp(row["taken_at"]),
            "call_back_within_min": row["call_back_within_min"], "closed_at": _stamp(row["closed_at"]),
            "closed_by": row["closed_by"], "closed_by_name": row["closed_by_name"], "take_s": take_s(row),
            "outcome": row["outcome"], "note": row["note"]}


def _stamp(at: float | None) -> str | None:
    return None if at is None else iso(at, "seconds")


def desk_counts(conn: Connection, user: User | None = None) -> dict[str, int]:
    """Open requests, and how many of them wait escalated (not taken in time), in the user's regions
    (None: everywhere)."""
    where = true() if user is None else in_regions(assists.c.region, user)
    total, escalated = conn.execute(select(func.count(), func.count().filter(_waiting_escalated))
                                    .select_from(assists).where(_open, where)).one()
    return {"open": total, "escalated": escalated}


# -- counted: what an office needs to see which services citizens cannot do alone ---------------------------
def period_requests(conn: Connection, since: float, until: float, where: ColumnElement[bool]) -> list[Mapping]:
    """The requests made in [since, until) that `where` selects (region scoping), for counting."""
    return list(conn.execute(select(assists.c.device, assists.c.region, assists.c.item, assists.c.desk_from,
                                    assists.c.taken_at, assists.c.closed_at, assists.c.outcome)
                             .where(assists.c.made_at >= since, assists.c.made_at < until, where)
                             .order_by(assists.c.made_at)).mappings())


def tally(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Requests, taken, the median time to take one (of the `take_s` the desk shows, cut to whole seconds as
    they are), each outcome, and how many are still open."""
    rows = list(rows)
    takes = [took for took in map(take_s, rows) if took is not None]
    outcomes = Counter(r["outcome"] for r in rows if r["outcome"])
    return {"requests": len(rows), "taken": len(takes),
            "median_take_s": int(statistics.median(takes)) if takes else None,
            "outcomes": {outcome: outcomes.get(outcome, 0) for outcome in ASSIST_OUTCOMES},
            "open": sum(r["closed_at"] is None for r in rows)}


def grouped(rows: Iterable[Mapping[str, Any]], *keys: str) -> dict[tuple, list[Mapping[str, Any]]]:
    groups: dict[tuple, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(row[key] or "" for key in keys)].append(row)
    return groups


def assist_usage(conn: Connection, user: User, names: CatalogueNames, since: float, until: float) -> dict[str, Any]:
    """The usage page's 帮办代办: in all, per booth and per item, most requests first."""
    rows = period_requests(conn, since, until, in_regions(assists.c.region, user))
    per_device = [{"device": device, **tally(part)} for (device,), part in grouped(rows, "device").items()]
    per_item = [{"item": item, "item_name": names.item(item), **tally(part)}
                for (item,), part in grouped(rows, "item").items()]
    return {"total": tally(rows), "per_device": sorted(per_device, key=_most_first),
            "per_item": sorted(per_item, key=_most_first)}


def _most_first(entry: dict[str, Any]) -> tuple[int, str]:
    return -entry["requests"], entry.get("device") or entry.get("item") or ""

"""The citizen's use-cases at the booth: read a guide, print the notice of what to bring, file an
application, book a half-day at the hall, rate a service. Each is safe once it returns: what was filed is
in the outbox before the screen says so, whether or not its paper could be printed.

好差评 after each task: a task done (a notice printed, an application filed, a booking made) offers the
citizen a rating of that item (and of its receipt), counted `rating_offered` in the usage ledger; the offer
is answered by a rating of the item (`rating_given`: a rating answers every offer of its item still standing,
its notice's and its receipt's alike), or skipped — by the citizen's "skip", or by the visit
ending (finish, home, the idle timeout) while it stands (`rating_skipped`). So every offer ends counted once
either way, and offered = given + skipped once the visit is over. A task is offered once per visit (another
copy of the same notice asks nothing more, nor does a notice of an item this visit already rated)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from appliance.catalog.holder import CatalogHolder
from appliance.catalog.model import CatalogError, FormProblem, Item
from appliance.contract import EventKind
from appliance.delivery.admission import OutboxRefused
from appliance.delivery.outbox import Accepted, Outbox
from appliance.monitor.usage import Counted, UsageLedger
from appliance.receipt_numbers import NumbersUsedUp, grouped
from appliance.services import documents
from appliance.services.errors import CitizenError
from appliance.services.printing import Printing
from appliance.services.session import CitizenSession
from appliance.services.visits import Visits
from appliance.state.filed_here import FiledHere
from appliance.state.receipt_sequence import ReceiptSequence
from drivers.card_reader import IdCard
from drivers.printer import Document, PrintError

log = logging.getLogger("kiosk.citizen")

RATING_LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
RATING_REASONS = ("排队等候时间长", "办事指南不清楚", "材料要求多", "操作步骤复杂", "设备故障", "服务态度不好",
                  "未能办结")
BOOKING_HORIZON_DAYS = 14

Offer = tuple[str, str | None]  # a rating offered: (item code, the receipt it names, or None for a notice)


@dataclass(frozen=True)
class FiledReceipt:
    """What the citizen takes away for an application or a booking: its number, and whether the paper came.

    `number` is the receipt number a person uses (appliance/receipt_numbers.py): 16 digits, printed large,
    shown on screen in groups of four (`number_shown`), keyed in on the progress screen's digit pad and
    read out digit by digit by voice guidance. `case_ref` is the event's id, what a rating names."""

    case_ref: str  # the event id: what central files it under
    item: str
    printed: bool
    print_problem: str | None = None
    number: str = ""  # the receipt number (受理编号 / 预约编号), digits only

    @property
    def number_shown(self) -> str:
        """The number as printed and shown: groups of four (2611 2301 2340 0073)."""
        return grouped(self.number) if self.number else self.case_ref


class CitizenServices:
    def __init__(self, catalog: CatalogHolder, visits: Visits, outbox: Outbox, filed_here: FiledHere,
                 ledger: UsageLedger, printing: Printing, sequence: ReceiptSequence) -> None:
        self._catalog = catalog
        self._visits = visits
        self._outbox = outbox
        self._filed_here = filed_here
        self._sequence = sequence
        self._ledger = ledger
        self._printing = printing
        # This visit's rating offers (under the visits' lock): standing, or how each ended; and what it rated.
        self._offers: dict[Offer, str] = {}
        self._rated: set[str] = set()  # items rated
        visits.on_end(self._offers_lapse)

    def item(self, code: str) -> Item:
        try:
            return self._catalog.item(code)
        except CatalogError as exc:
            raise CitizenError("unknown_item", str(exc)) from exc

    def view_guide(self, code: str) -> Item:
        item = self.item(code)
        self._visits.begin()
        self._ledger.count(Counted.GUIDE_VIEWED, code)
        return item

    def can_print(self) -> bool:
        """The screens offer "print" only when it would work, and say why not otherwise."""
        return self._printing.ready()

    def print_notice(self, code: str) -> None:
        """Print the one-time notice (一次性告知单) of everything to bring for an item."""
        item = self.item(code)
        session = self._visits.begin()
        self._print(documents.notice(item))
        self._ledger.count(Counted.NOTICE_PRINTED, code)
        self._offer_rating(session, code, None)

    def submit_application(self, code: str, form: dict[str, Any]) -> FiledReceipt:
        """File an application for the identified citizen and print its receipt."""
        item = self.item(code)
        try:
            form = item.check_form(form)
        except FormProblem as exc:
            raise CitizenError(exc.code, str(exc)) from exc
        session, card = self._visits.identified()
        accepted, number = self._file_numbered(EventKind.SUBMISSION, lambda number: {
            "item": code,
            "number": number,
            "session": session.id,
            "applicant": {
                "name": card.name, "id_number": card.id_number, "sex": card.sex, "nation": card.nation,
                "birth_date": card.birth_date, "address": card.address,
            },
            "form": form,
        })
        self._note_filed(session, card, accepted, EventKind.SUBMISSION, code, number)
        self._ledger.count(Counted.SUBMISSION, code)
        self._offer_rating(session, code, accepted.id)
        return self._print_receipt(accepted.id, code, number, documents.application_receipt(item, card, number))

    def bookable_days(self, today: date | None = None) -> list[date]:
        """The days a citizen may book: the next working days (Monday–Friday), two weeks ahead."""
        today = today or date.today()
        days = (today + timedelta(days=n) for n in range(1, BOOKING_HORIZON_DAYS + 1))
        return [day for day in days if day.weekday() < 5]

    def book_appointment(self, code: str, day: date, half: str) -> FiledReceipt:
        """预约: a half-day at the service hall for an item that takes bookings; the slip is printed.
        Like an application it needs the citizen's card."""
        item = self.item(code)
        if "book" not in item.actions:
            raise CitizenError("not_bookable", f"{item.name} takes no appointments")
        if day not in self.bookable_days() or half not in documents.HALF_DAYS:
            raise CitizenError("bad_slot", f"{day} {half} is not a bookable half-day")
        session, card = self._visits.identified()
        accepted, number = self._file_numbered(EventKind.APPOINTMENT, lambda number: {
            "item": code, "number": number, "day": day.isoformat(), "half": half, "session": session.id,
            "applicant": {"name": card.name, "id_number": card.id_number}})
        self._note_filed(session, card, accepted, EventKind.APPOINTMENT, code, number)
        self._ledger.count(Counted.APPOINTMENT, code)
        self._offer_rating(session, code, accepted.id)
        return self._print_receipt(accepted.id, code, number, documents.booking_slip(item, card, day, half, number))

    def rate(self, code: str, level: int, comment: str = "", reasons: tuple[str, ...] = (),
             case_ref: str | None = None) -> None:
        """好差评: five levels, 5 = 非常满意 … 1 = 非常不满意; the two lowest may say why (from a fixed
        list, so no free text reaches central), and a rating after an application names its receipt."""
        if level not in RATING_LEVELS:
            raise CitizenError("bad_level", f"rating level must be 1 to 5, not {level!r}")
        unknown = [reason for reason in reasons if reason not in RATING_REASONS]
        if unknown or (reasons and level > 2):
            raise CitizenError("bad_reasons", f"reasons {list(reasons)} do not fit level {level}")
        self.item(code)
        session = self._visits.begin()
        payload = {"item": code, "level": level, "label": RATING_LEVELS[level], "channel": "self-service-terminal",
                   "session": session.id, "comment": comment[:200], "reasons": list(dict.fromkeys(reasons))}
        if case_ref:
            if case_ref not in session.filed:  # a receipt of another visit is not this citizen's to rate
                raise CitizenError("not_your_case", f"receipt {case_ref} was not filed in this session")
            payload["case"] = case_ref
        self.file(EventKind.RATING, payload)
        self._ledger.count(Counted.RATING, code)
        with self._visits.lock:
            if self._visits.current is not session:
                return  # the visit ended meanwhile: its offers were counted as it ended
            self._rated.add(code)
            for offer in [offer for offer, state in self._offers.items() if offer[0] == code and state == "standing"]:
                self._offers[offer] = "given"  # asked about this item (after one task or two), and answered
                self._ledger.count(Counted.RATING_GIVEN, code)

    # -- 好差评 offered after each task -------------------------------------------------------------------------
    def rating_offered(self, code: str, case_ref: str | None = None) -> bool:
        """Whether this visit's offer to rate `code` (after the task that filed `case_ref`, or printed its
        notice: None) stands: the screens show it (a prompt with "rate" and "skip") while it does."""
        with self._visits.lock:
            return self._offers.get((code, case_ref)) == "standing"

    def skip_rating(self, code: str, case_ref: str | None = None) -> None:
        """The citizen skipped the offer to rate `code` (one touch): counted, and not asked again this visit."""
        with self._visits.lock:
            if self._offers.get((code, case_ref)) == "standing":
                self._offers[(code, case_ref)] = "skipped"
                self._ledger.count(Counted.RATING_SKIPPED, code)

    def _offer_rating(self, session: CitizenSession, code: str, case_ref: str | None) -> None:
        """A task for `code` is done: offer its rating, once per visit (not for a notice of an item rated)."""
        with self._visits.lock:
            offer = (code, case_ref)
            rated = case_ref is None and code in self._rated  # a notice of an item rated: asked already
            if self._visits.current is not session or offer in self._offers or rated:
                return
            self._offers[offer] = "standing"
            self._ledger.count(Counted.RATING_OFFERED, code)

    def _offers_lapse(self) -> None:
        """The visit ends (the visits' lock held): an offer still standing was skipped; the next citizen
        starts with none."""
        for (code, _case), state in self._offers.items():
            if state == "standing":
                self._ledger.count(Counted.RATING_SKIPPED, code)
        self._offers = {}
        self._rated = set()

    def file(self, kind: EventKind, payload: dict[str, Any],
             also: Callable[[sqlite3.Connection], None] | None = None) -> Accepted:
        """Put a citizen's event in the outbox (`also` in its transaction), or tell them plainly the booth
        cannot take it now."""
        try:
            return self._outbox.enqueue(kind, payload, also=also)
        except OutboxRefused as exc:
            log.error("%s event not stored: %s", kind, exc)
            raise CitizenError("not_accepted", "本机暂时无法受理，请到窗口办理或拨打 12345") from exc

    def _file_numbered(self, kind: EventKind, payload: Callable[[str], dict[str, Any]]) -> tuple[Accepted, str]:
        """File an event that gets a receipt number: the day's next one, taken in the event's own
        transaction (appliance/state/receipt_sequence.py). Returns the event and its number."""
        try:
            return self._sequence.issue(
                lambda number, commit: (self.file(kind, payload(number), also=commit), number))
        except NumbersUsedUp as exc:
            log.error("%s not filed: %s", kind, exc)
            raise CitizenError("numbers_used_up", "本机今日受理量已满，请到窗口办理或拨打 12345") from exc

    def _note_filed(self, session: CitizenSession, card: IdCard, accepted: Accepted, kind: EventKind, code: str,
                    number: str) -> None:
        """A receipt number was issued: this visit may rate it, and the booth can answer for it offline
        (by its number, or when the same card is placed again)."""
        session.filed.add(accepted.id)
        try:
            self._filed_here.note(accepted.id, kind.value, code, number, self._filed_here.holder(card.id_number))
        except sqlite3.Error as exc:  # the event itself is safe in the outbox; only the local note is missing
            log.error("note of a filed %s not kept: %s", kind, exc)

    def _print_receipt(self, case_ref: str, code: str, number: str, document: Document) -> FiledReceipt:
        """Print what the citizen takes away for a filed event; the event stays filed if printing fails."""
        try:
            self._print(document)
        except CitizenError as exc:
            return FiledReceipt(case_ref, code, printed=False, print_problem=exc.reason or exc.code, number=number)
        return FiledReceipt(case_ref, code, printed=True, number=number)

    def _print(self, document: Document) -> None:
        try:
            self._printing.print(document)
        except PrintError as exc:
            raise CitizenError("print_failed", f"print failed: {exc}", reason=exc.reason) from exc

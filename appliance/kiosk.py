"""The kiosk core: wires config, state, outbox, MQTT link, pump, ledger, commands and hardware, and
offers every citizen action as a use-case method the screens (or a test) call.

Threads: paho's network loop, the outbox pump, and the core's ticker (heartbeat, usage windows,
session timeouts, outbox expiry, health → LEDs and alerts). Events for the UI leave through the one
injected `notify` callable; the UI wraps it in `Clock.schedule_once`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from appliance import __version__
from appliance.catalog.model import CatalogError, CatalogStore, FormProblem, Item
from appliance.catalog.signing import CatalogRejected, load_public_key, open_message
from appliance.clock import clock_synchronised
from appliance.config import KioskConfig
from appliance.contract import (
    ASSIST_SCREEN,
    PERSONAL_KINDS,
    PHONE_NUMBER,
    QOS_COMMANDS,
    QOS_HEARTBEAT,
    AssistMode,
    DeviceStatus,
    EventKind,
    assist_answer_topic,
    catalog_topic,
    command_result_topic,
    confirmation_topic,
    device_topic,
    encode,
    heartbeat_topic,
    iso,
    progress_answer_topic,
    progress_request_topic,
    stamped,
)
from appliance.delivery.link import MqttLink
from appliance.delivery.outbox import Accepted, Outbox, OutboxRefused
from appliance.delivery.pump import Pump
from appliance.devices.hardware import Hardware, build_hardware
from appliance.errors import CodedError
from appliance.monitor.pi_health import pi_health, service_restarts
from appliance.monitor.status_file import WRITE_EVERY_S as STATUS_EVERY_S
from appliance.monitor.status_file import snapshot_lines, write_status
from appliance.monitor.system import readings
from appliance.monitor.usage import Action, UsageLedger
from appliance.monitor.watchdog import Liveness, Notifier, Watchdog
from appliance.privacy import mask_id_number, mask_name
from appliance.remote.command_center import CommandCenter, CommandError
from appliance.root_actions import request_action
from appliance.services.assist import AssistCall, AssistView, MalformedAnswer, parse_answer
from appliance.services.progress import CASE_REF, ProgressQueries
from appliance.services.progress import TIMEOUT_S as PROGRESS_TIMEOUT_S
from appliance.services.session import CitizenSession
from appliance.state.admin_pin import Attempt, PinGuard
from appliance.state.filed_here import FiledHere, FiledNote
from appliance.state.sealing import Sealer, load_or_create_key
from appliance.state.store import Store
from drivers.card_reader import CardEvent, CardEventKind, IdCard
from drivers.health import NOT_OPENED, SEVERITY, Health, HealthState
from drivers.leds import LedPattern
from drivers.printer import Document, PrintError
from drivers.scanner import ScanEvent, ScanEventKind

log = logging.getLogger("kiosk.core")

Notify = Callable[[str, dict[str, Any]], None]
RATING_LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
RATING_REASONS = ("排队等候时间长", "办事指南不清楚", "材料要求多", "操作步骤复杂", "设备故障", "服务态度不好",
                  "未能办结")
HALF_DAYS = {"am": "上午", "pm": "下午"}
BOOKING_HORIZON_DAYS = 14
EXPIRE_EVERY_S = 3600
LOOP_ALLOWANCE_S = 10.0  # a core loop silent this long is stuck (each passes at least once a second)
BACKLOG_DEGRADED_S = 600  # oldest undelivered event older than this: amber


class CitizenError(CodedError):
    """A citizen action that cannot be done now; `code` tells the screens what to show, `reason` (for a
    failed print) which part failed. The message is for logs and maintainers, never shown to a citizen."""

    def __init__(self, code: str, message: str, reason: str = "") -> None:
        super().__init__(code, message)
        self.reason = reason


@dataclass(frozen=True)
class SubmissionReceipt:
    case_ref: str  # the event id: what central files the case under
    item: str
    printed: bool
    print_problem: str | None = None


def _paper_time() -> str:
    """Now as a citizen reads it on paper: local time (the device's time zone), to the minute.
    Events and logs keep UTC; paper is for people at the booth."""
    return datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")


class Kiosk:
    def __init__(self, config: KioskConfig, hardware: Hardware | None = None, notify: Notify | None = None) -> None:
        self.config = config
        self.device_id = config.device.id
        self._notify = notify or (lambda name, data: None)
        storage = config.storage.dir
        storage.mkdir(parents=True, exist_ok=True, mode=0o750)
        self.store = Store(storage / "outbox.sqlite3")
        self.boot = self.store.next_boot()
        self.started = time.monotonic()
        sealer = Sealer(load_or_create_key(storage / "device.key"))
        self.outbox = Outbox(self.store, sealer, config.outbox, boot=self.boot,
                             clock_synced=clock_synchronised, on_change=self._outbox_changed)
        self.link = MqttLink(config, self.boot, clock_synchronised, on_message=self._on_mqtt_message,
                             on_connection_change=self._connection_changed)
        self.liveness = Liveness()
        self._card_seen = threading.Event()  # a card was read (the maintenance screen's reader test waits on it)
        self._pin_guard = PinGuard(self.store, config.admin.pin_hash) if config.admin.pin_hash else None
        self._service_restarts = service_restarts()
        self.pump = Pump(self.outbox, self.link, self.device_id, config.outbox.inflight_window,
                         on_pass=lambda: self.liveness.beat("outbox-pump"),
                         confirm_timeout_s=config.outbox.confirm_timeout_s)
        self.ledger = UsageLedger(self.store, self.outbox, config.usage.interval_s)
        self.filed_here = FiledHere(self.store)
        self.catalog = CatalogStore(config.catalog_file)
        self._catalog_key = load_public_key(config.catalog.public_key) if config.catalog.public_key else None
        self.hardware = hardware or build_hardware(config)
        self.commands = CommandCenter(
            self.store,
            {
                "ping": self._cmd_ping,
                "status": lambda args: self.health_snapshot(),
                "maintenance": self._cmd_maintenance,
                "reload-catalog": self._cmd_reload_catalog,
                "print-test": self._cmd_print_test,
                "led-test": lambda args: {"cycled": self.hardware.leds.cycle()},
                "retry-set-aside": self._cmd_retry_set_aside,
                "reboot": lambda args: self._ask_root("reboot"),
                "restart": lambda args: self._ask_root("restart-kiosk"),
            },
            config.commands.max_payload_bytes,
            clock_synchronised,
        )
        self.maintenance = False
        self.session: CitizenSession | None = None
        self._session_lock = threading.RLock()
        self._driver_health: dict[str, Health] = {}
        self._held_for_tls = 0  # events with personal data waiting because the link is not TLS
        self._health_lock = threading.Lock()  # the ticker, a print and a command may all look at once
        self.heartbeats_sent = 0
        self.last_heartbeat_at: float | None = None
        self._progress = ProgressQueries()
        self._assist = AssistCall(config.assist.answer_timeout_s)
        self._assist_lock = threading.Lock()
        self._assist_shown: AssistView | None = None  # the call as the UI was last told (its waited time aside)
        self.assist_answers_ignored = 0  # malformed answers (foreign or stale ones are normal and not counted)
        self.print_failures = 0
        self._stopping = threading.Event()
        self._ticker = threading.Thread(target=self._tick_loop, name="core-ticker", daemon=True)
        alive = {"mqtt-network": self.link.network_alive}
        if self.hardware.touchscreen is not None:  # a vanished touch device comes back only with a restart
            touch = self.hardware.touchscreen
            alive["touchscreen"] = lambda: not touch.needs_restart()
        self.watchdog = Watchdog(self.liveness, alive, Notifier())

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        try:
            version = self.catalog.load().version
            log.info("catalogue %s loaded", version)
        except CatalogError as exc:
            log.error("%s; the booth offers no services until a good catalogue arrives", exc)
        self.hardware.card_reader.open(self._on_card)
        self.hardware.printer.open()
        if self.hardware.scanner is not None:
            self.hardware.scanner.open(self._on_scan)
        self.link.start()
        self.liveness.expect("outbox-pump", within_s=LOOP_ALLOWANCE_S)
        self.pump.start()
        self.liveness.expect("core-ticker", within_s=LOOP_ALLOWANCE_S)
        self._ticker.start()
        self._refresh_health()
        self.watchdog.start()
        log.info("kiosk %s started (boot %d, software %s, %d events waiting)",
                 self.device_id, self.boot, __version__, self.outbox.depth)

    def stop(self) -> None:
        """Clean shutdown: citizen data dropped, pending deliveries kept, `offline` announced."""
        self.watchdog.stop()
        self._stopping.set()
        if self._ticker.is_alive():
            self._ticker.join(timeout=5)
        with self._session_lock:
            if self.session is not None:
                self._close_session("shutdown")
        self.pump.stop()
        self.link.stop()
        try:
            write_status(self.config.storage.dir, self.device_id, self.health_snapshot(), running=False)
        except OSError as exc:
            log.warning("last status not written: %s", exc)
        self.hardware.close()
        self.store.close()
        log.info("kiosk %s stopped", self.device_id)

    # -- citizen use-cases --------------------------------------------------------------------------
    def begin_session(self, elder: bool = False) -> CitizenSession:
        with self._session_lock:
            if self.session is None:
                timeout = self.config.session.elder_idle_timeout_s if elder else self.config.session.idle_timeout_s
                self.session = CitizenSession(idle_timeout_s=timeout, elder=elder)
                self.ledger.count(Action.SESSION_START)
            elif elder and not self.session.elder:  # switched to elder mode mid-visit: the longer wait too
                self.session.elder = True
                self.session.idle_timeout_s = self.config.session.elder_idle_timeout_s
            self.session.touch()
            return self.session

    def touch(self) -> None:
        with self._session_lock:
            if self.session is not None:
                self.session.touch()

    def end_session(self, reason: str = "finish") -> None:
        with self._session_lock:
            if self.session is not None:
                self._close_session(reason)

    def forget_card(self) -> None:
        """The citizen took the card away mid-step: the session goes on without their identity."""
        with self._session_lock:
            if self.session is not None:
                self.session.clear()

    def lift_card(self) -> None:
        """The card left the reader mid-form: nothing can be filed without it, but if the same card comes
        back (within the screens' grace period) the form goes on; `forget_card` ends the wait."""
        with self._session_lock:
            if self.session is not None:
                self.session.lift()

    def view_guide(self, code: str) -> Item:
        item = self._item(code)
        self.begin_session()
        self.ledger.count(Action.GUIDE_VIEWED, code)
        return item

    def can_print(self) -> bool:
        """Whether printing would work now, from the printer's last polled status (no waiting): the
        screens offer "print" only when it does, and say why not otherwise."""
        return self.hardware.printer.health().state not in (HealthState.FAULT, HealthState.ABSENT)

    def print_notice(self, code: str) -> None:
        """Print the one-time notice (一次性告知单) of everything to bring for an item."""
        item = self._item(code)
        self.begin_session()
        doc = Document().title("一次性告知单").row("事项", item.name).row("部门", item.department).separator()
        doc.text("申请材料：", bold=True)
        for number, material in enumerate(item.materials, 1):
            doc.text(f"{number}. {material.line()}")
        doc.separator().row("承诺时限", item.time_limit).row("收费", item.fee)
        doc.text("政务服务便民热线 12345").row("打印时间", _paper_time())
        self._print(doc)
        self.ledger.count(Action.NOTICE_PRINTED, code)

    def submit_application(self, code: str, form: dict[str, Any]) -> SubmissionReceipt:
        """File an application for the identified citizen and print its receipt.

        The application is durable once this returns, even if the receipt could not be printed.
        """
        item = self._item(code)
        try:
            form = item.check_form(form)
        except FormProblem as exc:
            raise CitizenError(exc.code, str(exc)) from exc
        session, card = self._identified()
        accepted = self._enqueue_citizen_event(EventKind.SUBMISSION, {
            "item": code,
            "session": session.id,
            "applicant": {
                "name": card.name, "id_number": card.id_number, "sex": card.sex, "nation": card.nation,
                "birth_date": card.birth_date, "address": card.address,
            },
            "form": form,
        })
        self._note_filed(session, accepted, EventKind.SUBMISSION, code)
        self.ledger.count(Action.SUBMISSION, code)
        receipt = (
            Document().title("受理回执").row("事项", item.name)
            .row("申请人", mask_name(card.name)).row("证件号码", mask_id_number(card.id_number))
            .row("受理编号", accepted.id).row("受理时间", _paper_time())
            .row("承诺时限", item.time_limit)
            .separator().qr(accepted.id).text("凭受理编号查询办件进度 · 12345")
        )
        return self._print_receipt(accepted.id, code, receipt)

    def bookable_days(self, today: date | None = None) -> list[date]:
        """The days a citizen may book: the next working days (Monday–Friday), two weeks ahead."""
        today = today or date.today()
        days = (today + timedelta(days=n) for n in range(1, BOOKING_HORIZON_DAYS + 1))
        return [day for day in days if day.weekday() < 5]

    def book_appointment(self, code: str, day: date, half: str) -> SubmissionReceipt:
        """预约: a half-day at the service hall for an item that takes bookings; the slip is printed.
        Like an application it needs the citizen's card, and it is safe once this returns."""
        item = self._item(code)
        if "book" not in item.actions:
            raise CitizenError("not_bookable", f"{item.name} takes no appointments")
        if day not in self.bookable_days() or half not in HALF_DAYS:
            raise CitizenError("bad_slot", f"{day} {half} is not a bookable half-day")
        session, card = self._identified()
        accepted = self._enqueue_citizen_event(EventKind.APPOINTMENT, {
            "item": code, "day": day.isoformat(), "half": half, "session": session.id,
            "applicant": {"name": card.name, "id_number": card.id_number}})
        self._note_filed(session, accepted, EventKind.APPOINTMENT, code)
        self.ledger.count(Action.APPOINTMENT, code)
        slip = (Document().title("预约凭条").row("事项", item.name).row("预约人", mask_name(card.name))
                .row("证件号码", mask_id_number(card.id_number))
                .row("预约时间", f"{day.isoformat()} {HALF_DAYS[half]}").row("预约编号", accepted.id)
                .separator().qr(accepted.id).text("请携带居民身份证按时到政务服务大厅取号 · 12345"))
        return self._print_receipt(accepted.id, code, slip)

    def rate(self, code: str, level: int, comment: str = "", reasons: tuple[str, ...] = (),
             case_ref: str | None = None) -> None:
        """好差评: five levels, 5 = 非常满意 … 1 = 非常不满意; the two lowest may say why (from a fixed
        list, so no free text reaches central), and a rating after an application names its receipt."""
        if level not in RATING_LEVELS:
            raise CitizenError("bad_level", f"rating level must be 1 to 5, not {level!r}")
        unknown = [reason for reason in reasons if reason not in RATING_REASONS]
        if unknown or (reasons and level > 2):
            raise CitizenError("bad_reasons", f"reasons {list(reasons)} do not fit level {level}")
        self._item(code)
        session = self.begin_session()
        payload = {"item": code, "level": level, "label": RATING_LEVELS[level], "channel": "self-service-terminal",
                   "session": session.id, "comment": comment[:200], "reasons": list(dict.fromkeys(reasons))}
        if case_ref:
            if case_ref not in session.filed:  # a receipt of another visit is not this citizen's to rate
                raise CitizenError("not_your_case", f"receipt {case_ref} was not filed in this session")
            payload["case"] = case_ref
        self._enqueue_citizen_event(EventKind.RATING, payload)
        self.ledger.count(Action.RATING, code)

    def query_progress(self, case_ref: str, timeout_s: float = PROGRESS_TIMEOUT_S) -> dict[str, Any]:
        """办件进度: ask central about a receipt number, waiting at most `timeout_s` (the citizen waits)."""
        case_ref = case_ref.strip().upper()
        if not CASE_REF.fullmatch(case_ref):
            raise CitizenError("bad_number", f"{case_ref!r} is not a receipt number")
        self.begin_session()
        here = self.filed_here.find(case_ref)
        if not self.link.connected:
            if here is not None:
                return self._answer_from_here(here)
            raise CitizenError("offline", "no connection to central: progress cannot be asked now")
        request_id = self._progress.new()
        self.link.publish(progress_request_topic(self.device_id), encode(stamped(
            self.device_id, clock_synchronised(), {"id": request_id, "case": case_ref})), QOS_COMMANDS)
        answer = self._progress.wait(request_id, timeout_s)
        if here is not None and (answer is None or not answer.get("found")):
            return self._answer_from_here(here)  # central has not got it (yet): this booth knows it filed it
        if answer is None:
            raise CitizenError("no_answer", f"central did not answer within {timeout_s:.0f} s")
        return answer

    def _answer_from_here(self, note: FiledNote) -> dict[str, Any]:
        """A progress answer from the booth's own note: filed here, and whether it still waits to be sent."""
        return {"found": True, "source": "booth", "case": note.case_ref, "item": note.item, "kind": note.kind,
                "filed_at": note.filed_at, "waiting": self.outbox.holds(note.case_ref)}

    def request_assist(self, screen: str, mode: AssistMode = AssistMode.ON_SITE, phone: str | None = None,
                       code: str | None = None) -> AssistView:
        """帮办代办: ask for a person — someone coming to the booth (where staff are on duty) or a call back
        at `phone` — from `screen`, about item `code` if any. Returns what the screen may truthfully say
        (appliance/services/assist.py); while a call is still open, a second press returns it instead of another."""
        mode = AssistMode(mode)
        if not ASSIST_SCREEN.fullmatch(screen):
            raise CitizenError("bad_screen", f"{screen!r} is not a screen name")
        if mode is AssistMode.CALL_BACK and (phone is None or not PHONE_NUMBER.fullmatch(phone)):
            raise CitizenError("bad_phone", "a call back needs a phone number of digits only")  # never the number
        if mode is AssistMode.ON_SITE and phone is not None:
            raise CitizenError("phone_not_asked", "a phone number goes only with a call back")
        if mode is AssistMode.ON_SITE and not self.config.assist.on_site:
            raise CitizenError("no_staff_on_site", "no staff on duty at this site can come to the booth")
        item = code if code is not None and self._known_item(code) else None  # help is never refused for it
        with self._session_lock:
            session = self.begin_session()
            current = self.assist_status()
            if current is not None and current.open:
                return current
            payload: dict[str, Any] = {"item": item, "screen": screen, "mode": mode.value, "session": session.id,
                                       "site": self.config.device.site}
            if phone is not None:
                payload["phone"] = phone
            accepted = self._enqueue_citizen_event(EventKind.ASSIST, payload)
            self._assist.start(accepted.id, mode, screen, item, phone)
        self.ledger.count(Action.ASSIST, item or "")
        return self._assist_check()

    def assist_status(self) -> AssistView | None:
        """The citizen's call for help as it stands now (None without one); the screen asks every second
        for the waited time."""
        return self._assist.view(deliverable=self.link.connected and self.link.tls,
                                 held=self.link.connected and not self.link.tls)

    def _assist_check(self) -> AssistView | None:
        """Tell the UI when what it shows of the call has changed (not for the waited time alone)."""
        with self._assist_lock:  # the ticker, paho's thread and the screens all look
            view = self.assist_status()
            seen = None if view is None else replace(view, waited_s=0)
            if seen != self._assist_shown:
                self._assist_shown = seen
                if view is not None:
                    self._notify("assist_changed", {"view": view})
            return view

    def _note_assist_committed(self) -> None:
        """Once central's confirmation has freed the open call's event, central has it on the desk, whether
        or not its `queued` answer arrives (the ticker asks each second while central has said nothing)."""
        request = self._assist.awaiting_central()
        if request is not None and not self.outbox.holds(request) and self._assist.committed(request):
            self._assist_check()

    def _on_assist_answer(self, payload: bytes) -> None:
        """Central's word on a call: only an answer about the open one counts (others are a past call's)."""
        try:
            answer = parse_answer(payload)
        except MalformedAnswer as exc:
            self.assist_answers_ignored += 1
            if self.assist_answers_ignored == 1:
                log.warning("assist answer ignored: %s (further ones are only counted)", exc)
            return
        if self._assist.answer(answer):
            self._assist_check()

    # -- helpers of the use-cases ----------------------------------------------------------------------
    def _item(self, code: str) -> Item:
        try:
            return self.catalog.item(code)
        except CatalogError as exc:
            raise CitizenError("unknown_item", str(exc)) from exc

    def _known_item(self, code: str) -> bool:
        try:
            self.catalog.item(code)
        except CatalogError:
            return False
        return True

    def _identified(self) -> tuple[CitizenSession, IdCard]:
        """The current session and its card, or `not_identified`: what filing in a citizen's name needs."""
        with self._session_lock:
            session = self.session
            card = session.card if session else None
            if session is None or card is None:
                raise CitizenError("not_identified", "请先在读卡区放置居民身份证")
            session.touch()
            return session, card

    def _enqueue_citizen_event(self, kind: EventKind, payload: dict[str, Any]) -> Accepted:
        try:
            return self.outbox.enqueue(kind, payload)
        except OutboxRefused as exc:
            log.error("%s event not stored: %s", kind, exc)
            raise CitizenError("not_accepted", "本机暂时无法受理，请到窗口办理或拨打 12345") from exc

    def _note_filed(self, session: CitizenSession, accepted: Accepted, kind: EventKind, code: str) -> None:
        """A receipt number was issued: this visit may rate it, and the booth can answer for it offline."""
        session.filed.add(accepted.id)
        try:
            self.filed_here.note(accepted.id, kind.value, code)
        except sqlite3.Error as exc:  # the event itself is safe in the outbox; only the local note is missing
            log.error("note of a filed %s not kept: %s", kind, exc)

    def _print_receipt(self, case_ref: str, code: str, document: Document) -> SubmissionReceipt:
        """Print what the citizen takes away for a filed event; the event stays filed if printing fails."""
        try:
            self._print(document)
        except CitizenError as exc:
            return SubmissionReceipt(case_ref, code, printed=False, print_problem=exc.reason or exc.code)
        return SubmissionReceipt(case_ref, code, printed=True)

    def _print(self, document: Document) -> None:
        try:
            self.hardware.printer.print(document)
        except PrintError as exc:
            self.print_failures += 1
            log.error("print failed: %s", exc)
            self._refresh_health()
            raise CitizenError("print_failed", f"print failed: {exc}", reason=exc.reason) from exc

    def _close_session(self, reason: str) -> None:
        session = self.session
        assert session is not None
        session.clear()
        self._assist.forget()  # the call was this citizen's: the next one starts without it
        self._assist_shown = None
        self.session = None
        if reason == "timeout":
            self.ledger.count(Action.TIMEOUT)
        self.ledger.count(Action.SESSION_END)
        self._notify("session_ended", {"reason": reason})

    def _on_card(self, event: CardEvent) -> None:
        if event.kind is CardEventKind.READ and event.card is not None:
            with self._session_lock:
                returning = self.begin_session().place(event.card)
            self._card_seen.set()
            self._notify("card_read", {"name": mask_name(event.card.name),
                                       "id_number": mask_id_number(event.card.id_number), "returning": returning})
        elif event.kind is CardEventKind.REMOVED:
            self._notify("card_removed", {})
        elif event.kind is CardEventKind.ERROR:
            log.warning("card read failed: %s", event.reason)
            self._notify("card_error", {"reason": event.reason})

    def _on_scan(self, event: ScanEvent) -> None:
        """A scanned code goes to the screens (a receipt number, an e-certificate); never logged."""
        if event.kind is ScanEventKind.CODE:
            self._notify("scanned", {"text": event.text})
        else:
            log.warning("scan not usable: %s", event.reason)
            self._notify("scan_error", {"reason": event.reason})

    # -- health, heartbeat, alerts ------------------------------------------------------------------------
    def driver_health(self) -> dict[str, Health]:
        return {
            "card_reader": self.hardware.card_reader.health(),
            "printer": self.hardware.printer.health(),
            "leds": self.hardware.leds.health(),
            **({"scanner": self.hardware.scanner.health()} if self.hardware.scanner is not None else {}),
            **({"touchscreen": self.hardware.touchscreen.health()} if self.hardware.touchscreen else {}),
        }

    def health_snapshot(self) -> dict[str, Any]:
        """Everything the heartbeat carries (docs/asyncapi.yaml, Heartbeat). No personal data."""
        counters = {action.value: self.ledger.since_boot.get(action.value, 0) for action in Action}
        counters.update(
            delivered=self.pump.delivered, confirmed=self.pump.confirmed, resent=self.pump.resent,
            confirmations_malformed=self.pump.malformed, confirmations_mismatched=self.pump.mismatched,
            set_aside=self.pump.set_aside, commands=self.commands.handled,
            heartbeats=self.heartbeats_sent, print_failures=self.print_failures,
            assist_answers_ignored=self.assist_answers_ignored,
        )
        return {
            "boot": self.boot,
            "uptime_s": round(time.monotonic() - self.started),
            "software": __version__,
            "catalog_version": self.catalog.version,
            "mode": DeviceStatus.MAINTENANCE.value if self.maintenance else DeviceStatus.ONLINE.value,
            "outbox": self.outbox.stats(),
            "drivers": {name: health.as_dict() for name, health in self.driver_health().items()},
            "leds": self.hardware.leds.pattern.value,
            "link": {**self.link.state(), "held_for_tls": self._held_for_tls},
            "system": {**readings(self.config.storage.dir), "pi": pi_health(self._service_restarts)},
            "counters": counters,
        }

    def publish_heartbeat(self, snapshot: dict[str, Any] | None = None) -> bool:
        """Publish `snapshot` (or one taken now) when connected."""
        if not self.link.connected:
            return False
        payload = encode(stamped(self.device_id, clock_synchronised(), snapshot or self.health_snapshot()))
        self.link.publish(heartbeat_topic(self.device_id), payload, QOS_HEARTBEAT)
        self.heartbeats_sent += 1
        self.last_heartbeat_at = time.time()
        return True

    def raise_alert(self, code: str, severity: str, message: str, **details: Any) -> None:
        """An alert goes through the outbox, so it reaches central even after a week offline."""
        try:
            self.outbox.enqueue(EventKind.ALERT, {"code": code, "severity": severity, "message": message,
                                                  "details": details})
        except OutboxRefused as exc:
            log.error("alert %s not stored: %s", code, exc)

    def _refresh_health(self) -> None:
        """Compare driver health with the last look: alert on changes (once each), and set the LEDs."""
        with self._health_lock:
            self._note_held_for_tls()
            current = self.driver_health()
            self._alert_health_changes(current)
            self._driver_health = current
            self.hardware.leds.show(self._led_pattern(current))

    def _alert_health_changes(self, current: dict[str, Health]) -> None:
        """A fault is alerted when it appears (also right at start); a recovery when it goes."""
        for name, health in current.items():
            before = self._driver_health.get(name)
            if before is None or before == health:
                continue
            if health.state in (HealthState.FAULT, HealthState.ABSENT):
                self.raise_alert(f"{name}_{health.reason}", "error", f"{name} is {health.state}: {health.reason}",
                                 driver=name, state=health.state.value, reason=health.reason)
            elif health.state is HealthState.OK and before != NOT_OPENED:  # coming up is no recovery
                self.raise_alert(f"{name}_recovered", "info", f"{name} is ok again", driver=name,
                                 state="ok", reason="ok", was=before.reason)

    def _note_held_for_tls(self) -> None:
        """Submissions, bookings and calls for help leave only over TLS: without it they wait, and the booth says so
        (a log line when it starts and when it ends, the status lines, amber LEDs) instead of looking fine."""
        held = 0 if self.link.tls else self.outbox.waiting(PERSONAL_KINDS)
        if held and not self._held_for_tls:
            log.warning("%d events with personal data are held: they leave only over TLS and broker.tls is not "
                        "set (configure [broker.tls] in kiosk.toml)", held)
        elif self._held_for_tls and not held:
            log.info("no events with personal data are held for TLS any more")
        self._held_for_tls = held

    def _led_pattern(self, health: dict[str, Health]) -> LedPattern:
        if self.maintenance:
            return LedPattern.MAINTENANCE
        worst = max((SEVERITY[h.state] for h in health.values()), default=0)
        if worst >= SEVERITY[HealthState.FAULT]:
            return LedPattern.FAULT
        oldest = self.outbox.oldest_age_s() or 0
        if worst or not self.link.connected or oldest > BACKLOG_DEGRADED_S or self._held_for_tls:
            return LedPattern.DEGRADED
        return LedPattern.WORKING if self.session is not None else LedPattern.READY

    def enter_maintenance(self, pin: str) -> Attempt:
        """The maintainer's PIN, asked after the hidden gesture; every judged attempt is reported to
        central (an alert event), and a lockout carries its end time."""
        if self._pin_guard is None:
            raise CitizenError("no_admin_pin", "no admin PIN is provisioned on this booth")
        attempt = self._pin_guard.attempt(pin)
        if attempt.outcome == "too_fast":
            return attempt
        details: dict[str, Any] = {"failures": attempt.failures}
        if attempt.locked_until is not None:
            details["until"] = iso(attempt.locked_until, "seconds")
        code, severity, message = {
            "ok": ("admin_pin_ok", "info", "maintenance opened with the admin PIN"),
            "wrong": ("admin_pin_failed", "warning", f"wrong admin PIN ({attempt.failures} in a row)"),
            "locked": ("admin_pin_lockout", "warning", "admin PIN locked out after repeated failures"),
        }[attempt.outcome]
        self.raise_alert(code, severity, message, **details)
        if attempt.outcome == "ok":
            self.set_maintenance(True)
        return attempt

    # -- on-site maintenance (after the admin PIN) ------------------------------------------------------
    def maintenance_facts(self) -> list[str]:
        beat = "never" if self.last_heartbeat_at is None else f"{time.time() - self.last_heartbeat_at:.0f} s ago"
        return [f"{self.device_id} · {self.config.device.site}", *snapshot_lines(self.health_snapshot()),
                f"  last heartbeat {beat}; clock {'synchronised' if clock_synchronised() else 'NOT synchronised'}"]

    def print_test_page(self) -> str:
        try:
            self._cmd_print_test({})
        except CommandError as exc:
            raise CitizenError("print_failed", str(exc)) from exc
        return "OK"

    def test_card_reader(self, timeout_s: float = 20.0) -> str:
        """Wait for a card on the reader; say whose (masked) and forget it at once."""
        self._card_seen.clear()
        if not self._card_seen.wait(timeout_s):
            reader = self.hardware.card_reader.health()
            raise CitizenError("no_card", f"no card read in {timeout_s:.0f} s (reader {reader.state}: {reader.reason})")
        with self._session_lock:
            card = self.session.card if self.session is not None else None
            self.forget_card()
        return mask_name(card.name) if card is not None else "OK"

    def cycle_leds(self) -> str:
        try:
            return ", ".join(self.hardware.leds.cycle())
        except RuntimeError as exc:  # no GPIO on this board
            raise CitizenError("no_leds", str(exc)) from exc

    def retry_delivery(self) -> str:
        """Send now: set-aside events go back in line and the pump is woken."""
        retried = self.outbox.retry_set_aside()
        self.pump.notify()
        return f"{retried} set-aside events requeued; {self.outbox.depth} waiting"

    def leave_maintenance(self) -> None:
        self.set_maintenance(False)

    def set_maintenance(self, on: bool) -> None:
        self.maintenance = on
        self.link.set_status(DeviceStatus.MAINTENANCE if on else DeviceStatus.ONLINE)
        self._refresh_health()
        log.info("maintenance mode %s", "on" if on else "off")

    # -- threads' entry points ---------------------------------------------------------------------------
    def _tick_loop(self) -> None:
        next_heartbeat = next_expiry = next_status = time.monotonic()
        while not self._stopping.wait(1.0):
            self.liveness.beat("core-ticker")
            try:
                now = time.monotonic()
                self._check_session_timeout()
                self._note_assist_committed()
                self._assist_check()
                if now >= next_heartbeat or now >= next_status:
                    snapshot = self.health_snapshot()  # one reading for both when both are due
                    if now >= next_heartbeat:
                        self.publish_heartbeat(snapshot)
                        next_heartbeat = now + self.config.heartbeat.interval_s
                    if now >= next_status:
                        write_status(self.config.storage.dir, self.device_id, snapshot)
                        next_status = now + STATUS_EVERY_S
                self.ledger.flush_if_due()
                if now >= next_expiry:
                    self.outbox.expire()
                    next_expiry = now + EXPIRE_EVERY_S
                if self.outbox.needs_full_alert():
                    self.raise_alert("outbox_full", "warning", "outbox at capacity: usage reports are held back",
                                     depth=self.outbox.depth, capacity=self.config.outbox.capacity)
                self._refresh_health()
            except Exception:
                log.exception("core housekeeping step failed")

    def _check_session_timeout(self) -> None:
        with self._session_lock:
            session = self.session
            if session is None:
                return
            if self._assist.holds_session():  # waiting for help is activity (appliance/services/assist.py)
                session.touch()
            remaining = session.remaining_s()
            if remaining <= 0:
                log.info("session ended by idle timeout")
                self._close_session("timeout")
            elif remaining <= self.config.session.countdown_s:
                self._notify("session_countdown", {"remaining_s": int(remaining)})

    def _outbox_changed(self) -> None:
        self.pump.notify()

    def _connection_changed(self, connected: bool) -> None:
        self._assist_check()  # a saved call can leave now, or no longer
        if connected:
            self.pump.notify()
            self.publish_heartbeat()
        else:
            self.pump.connection_lost()

    def _on_mqtt_message(self, topic: str, payload: bytes) -> None:
        if topic == confirmation_topic(self.device_id):
            self.pump.confirmation(payload)
            return
        if topic == catalog_topic(self.config.device.region):
            self._on_catalog_message(payload)
            return
        if topic == assist_answer_topic(self.device_id):
            self._on_assist_answer(payload)
            return
        if topic == progress_answer_topic(self.device_id):
            if not self._progress.answer(payload):
                log.warning("progress answer not usable (malformed, or nobody is waiting any more)")
            return
        prefix = device_topic(self.device_id, "cmd/")
        if not topic.startswith(prefix):
            log.warning("message on unexpected topic %s ignored", topic)
            return
        result = self.commands.handle(topic[len(prefix):], payload)
        self.link.publish(command_result_topic(self.device_id),
                          encode(stamped(self.device_id, clock_synchronised(), result)), QOS_COMMANDS)

    def _on_catalog_message(self, payload: bytes) -> None:
        """A (retained) catalogue update for this region: used only if signed with the configured key."""
        try:
            text = open_message(payload, self._catalog_key)
            version = json.loads(text).get("version") if text else None
            if version == self.catalog.version:
                return  # the retained message again, at a reconnect
            catalog = self.catalog.replace(text)
        except CatalogRejected as exc:
            log.warning("catalogue update refused: %s", exc)
            self.raise_alert("catalog_rejected", "warning", str(exc), reason=exc.reason)
            return
        except (CatalogError, ValueError, AttributeError, OSError) as exc:
            log.warning("catalogue update unusable: %s; still using %s", exc, self.catalog.version)
            self.raise_alert("catalog_invalid", "warning", f"{exc}; still using {self.catalog.version}")
            return
        log.info("catalogue %s installed (%d items)", catalog.version, len(catalog.items))
        self._notify("catalog_changed", {"version": catalog.version})

    # -- command handlers -----------------------------------------------------------------------------------
    def _cmd_ping(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"pong": True, "uptime_s": round(time.monotonic() - self.started), "boot": self.boot}

    def _cmd_maintenance(self, args: dict[str, Any]) -> dict[str, Any]:
        on = args.get("on")
        if not isinstance(on, bool):
            raise CommandError("bad_args", 'maintenance needs args {"on": true} or {"on": false}')
        self.set_maintenance(on)
        return {"mode": "maintenance" if on else "online"}

    def _cmd_reload_catalog(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            catalog = self.catalog.load()
        except CatalogError as exc:
            raise CommandError("catalog_invalid", f"{exc}; still using {self.catalog.version}") from exc
        return {"version": catalog.version, "items": len(catalog.items)}

    def _cmd_retry_set_aside(self, args: dict[str, Any]) -> dict[str, Any]:
        """Someone looked at why events were set aside and fixed it (e.g. raised a broker limit)."""
        return {"retried": self.outbox.retry_set_aside()}

    def _ask_root(self, action: str) -> dict[str, Any]:
        """Reboot or restart: done by the root unit (kiosk-actions), asked through a request file."""
        request = request_action(self.config.storage.dir / "actions", f"{action}-{int(time.time())}", action)
        return {"requested": action, "request": request.name}

    def _cmd_print_test(self, args: dict[str, Any]) -> dict[str, Any]:
        doc = (Document().title("打印测试 / Test page").row("设备", self.device_id)
               .row("网点", self.config.device.site).row("时间", _paper_time()).separator().qr(self.device_id))
        try:
            self.hardware.printer.print(doc)
        except PrintError as exc:
            self.print_failures += 1
            raise CommandError("print_failed", f"printer: {exc}") from exc
        return {"printed": True}

"""The booth's composition root: `Kiosk` builds every part once, wires who tells whom, starts and stops
them in order, and offers the screens (and tests) one thin facade over the services.

Threads (docs/architecture.md): paho's network loop (`MqttLink`; it routes quick messages itself and hands
commands and catalogue updates to the core worker), the outbox pump, the core ticker (the periodic jobs
below), the core worker, the devices' port threads and the watchdog. Events for the UI leave through the
one injected `notify` callable (`appliance/events.py`); the touchscreen wraps it in Kivy's clock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from appliance import __version__
from appliance.catalog.holder import CatalogHolder
from appliance.catalog.model import CatalogError, Item
from appliance.catalog.signing import load_public_key
from appliance.catalog.updates import CatalogUpdates
from appliance.clock import clock_synchronised
from appliance.config import KioskConfig
from appliance.contract import (
    PERSONAL_KINDS,
    QOS_COMMANDS,
    AssistMode,
    assist_answer_topic,
    catalog_topic,
    command_result_topic,
    confirmation_topic,
    device_topic,
    encode,
    progress_answer_topic,
    release_chunk_topic,
    release_offer_topic,
    stamped,
)
from appliance.delivery.link import MqttLink
from appliance.delivery.outbox import Outbox
from appliance.delivery.pump import Pump
from appliance.devices.hardware import Hardware, build_hardware
from appliance.events import BoothStatus, Notify, nobody_listens
from appliance.monitor import ticker as ticking
from appliance.monitor.alerts import Alerts
from appliance.monitor.health import BoothHealth, HealthCoordinator, warn_held_for_tls
from appliance.monitor.heartbeat import Heartbeat
from appliance.monitor.status_file import WRITE_EVERY_S as STATUS_EVERY_S
from appliance.monitor.usage import Counted, UsageLedger
from appliance.monitor.watchdog import Liveness, Notifier, Watchdog
from appliance.receipt_numbers import made_up_code
from appliance.release.fetch import ReleaseFetcher
from appliance.release.layout import ReleaseLayout
from appliance.release.trial_watch import TrialWatch, update_block
from appliance.remote import handlers
from appliance.remote.command_center import CommandCenter
from appliance.remote.inbox import CoreWorker, Inbox
from appliance.root_actions import request_action
from appliance.services.assist import AssistView
from appliance.services.citizen import CitizenServices, FiledReceipt
from appliance.services.help_calls import HelpCalls
from appliance.services.maintenance import Maintenance
from appliance.services.printing import Printing
from appliance.services.progress import TIMEOUT_S as PROGRESS_TIMEOUT_S
from appliance.services.progress import ProgressDesk
from appliance.services.reader_events import ReaderEvents
from appliance.services.self_test import CardProbe
from appliance.services.session import CitizenSession
from appliance.services.visits import Visits
from appliance.services.voice import Part, VoiceGuide
from appliance.state.admin_pin import Attempt, PinGuard
from appliance.state.filed_here import FiledHere
from appliance.state.receipt_sequence import ReceiptSequence
from appliance.state.sealing import Sealer, derived_key, load_or_create_key
from appliance.state.store import Store
from drivers.health import Health

log = logging.getLogger("kiosk.core")

EXPIRE_EVERY_S = 3600


class Kiosk:
    def __init__(self, config: KioskConfig, hardware: Hardware | None = None, notify: Notify = nobody_listens,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`notify`: where the screens' events go; `clock`: the monotonic clock a call for help's waits
        are measured by (a test passes one it can move on)."""
        self.config = config
        self.device_id = device = config.device.id
        self._notify = notify
        storage = config.storage.dir
        storage.mkdir(parents=True, exist_ok=True, mode=0o750)
        self.store = Store(storage / "outbox.sqlite3")
        self.boot = self.store.next_boot()
        self.liveness = Liveness()
        self._worker = CoreWorker(self.liveness)
        inbox = Inbox(self._worker)
        device_key = load_or_create_key(storage / "device.key")
        self.outbox = Outbox(self.store, Sealer(device_key), config.outbox,
                             boot=self.boot, clock_synced=clock_synchronised, on_change=lambda: self.pump.notify())
        self.link = MqttLink(config, self.boot, clock_synchronised, on_message=inbox,
                             on_connection_change=self._connection_changed)
        self.pump = Pump(self.outbox, self.link, device, config.outbox.inflight_window,
                         on_pass=lambda: self.liveness.beat("outbox-pump"),
                         confirm_timeout_s=config.outbox.confirm_timeout_s)
        self.ledger = UsageLedger(self.store, self.outbox, config.usage.interval_s)
        self.catalog = CatalogHolder(config.catalog_file)
        self.hardware = hardware or build_hardware(config)
        self.health = HealthCoordinator(self._read_health)
        self.alerts = Alerts(self.outbox, config.outbox.capacity)
        self.visits = Visits(config.session, self.ledger, notify)
        printing = Printing(self.hardware.printer, on_failure=self.health.refresh)
        filed_here = FiledHere(self.store, derived_key(device_key, "filed-here holder"))
        self.receipt_numbers = ReceiptSequence(self.store, _booth_code(config))
        self.citizen = CitizenServices(self.catalog, self.visits, self.outbox, filed_here, self.ledger, printing,
                                       self.receipt_numbers)
        self.help = HelpCalls(config.assist, config.device.site, self.citizen, self.visits, self.outbox, self.link,
                              self.ledger, notify, clock)
        self.progress = ProgressDesk(device, self.link, self.visits, filed_here, self.outbox)
        self.voice = VoiceGuide(config.speech, self.hardware.speaker)
        card_probe = CardProbe()
        self._readers = ReaderEvents(self.visits, card_probe, notify)
        pin_guard = PinGuard(self.store, config.admin.pin_hash) if config.admin.pin_hash else None
        self.maintainer = Maintenance(device, config.device.site, pin_guard, self.alerts, self.link, printing,
                                      self.hardware.card_reader, card_probe, self.hardware.leds, self.visits,
                                      self.outbox, self.pump, on_change=self.health.refresh)
        self.heartbeat = Heartbeat(
            device, self.boot, storage, self.link, self.outbox, lambda: self.catalog.version, self.hardware.leds,
            self.driver_health, self.health, lambda: self.maintainer.on,
            lambda: {**{c.value: self.ledger.since_boot.get(c.value, 0) for c in Counted}, **self.pump.counters(),
                     "commands": self.commands.handled, "print_failures": printing.failures,
                     "assist_answers_ignored": self.help.answers_ignored},
            lambda: update_block(self.trial.record, __version__, self.fetcher.state()),
            site=config.device.site, region=config.device.region)
        self.trial = TrialWatch(ReleaseLayout(config.updates.release_root), __version__,
                                config.updates.commit_window_s, self._healthy_on_trial,
                                lambda: _ask_root(storage, "commit-release"))
        # A release is fetched only while no citizen is in a session and none is on trial.
        self.fetcher = ReleaseFetcher(device, config.updates, storage / "updates", self.link.publish,
                                      self.trial.highest_sequence,
                                      lambda: self.visits.current is not None or self.trial.on_trial,
                                      lambda: _ask_root(storage, "install-release"))
        self.commands = CommandCenter(self.store, handlers.checked({
            "ping": handlers.ping(self.heartbeat, self.boot),
            "status": handlers.status(self.heartbeat),
            "maintenance": handlers.maintenance(self.maintainer),
            "reload-catalog": handlers.reload_catalog(self.catalog),
            "print-test": handlers.print_test(printing, device, config.device.site),
            "led-test": handlers.led_test(self.hardware.leds),
            "retry-set-aside": handlers.retry_set_aside(self.outbox, self.pump),
            "reboot": handlers.ask_root(storage / "actions", "reboot"),
            "restart": handlers.ask_root(storage / "actions", "restart-kiosk"),
        }), config.commands.max_payload_bytes, clock_synchronised)
        key = load_public_key(config.catalog.public_key) if config.catalog.public_key else None
        _route_messages(inbox, self, CatalogUpdates(self.catalog, key, self.alerts.raise_alert, notify, self.store))
        for listener in (self.alerts.on_health, warn_held_for_tls, self._show_health):
            self.health.add_listener(listener)
        self.ticker = ticking.Ticker(self.liveness)
        _schedule_jobs(self.ticker, self)
        alive = {"mqtt-network": self.link.network_alive}
        touch = self.hardware.touchscreen
        if touch.fitted:  # a vanished touch device comes back only with a restart
            alive["touchscreen"] = lambda: not touch.needs_restart()
        self.watchdog = Watchdog(self.liveness, alive, Notifier())
        self._shown_status: BoothStatus | None = None
        self._started = self._stopped = False

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        try:
            log.info("catalogue %s loaded", self.catalog.load().version)
        except CatalogError as exc:
            log.error("%s; the booth offers no services until a good catalogue arrives", exc)
        self._started = True
        self.hardware.card_reader.open(self._readers.card)
        self.hardware.printer.open()
        self.hardware.scanner.open(self._readers.scan)
        self._worker.start()
        self.link.start()
        self.liveness.expect("outbox-pump", within_s=ticking.LOOP_ALLOWANCE_S)
        self.pump.start()
        self.ticker.start()
        self.health.refresh()
        self.heartbeat.write_status()
        self.watchdog.start()
        log.info("kiosk %s started (boot %d, software %s, %d events held)",
                 self.device_id, self.boot, __version__, self.outbox.held)

    @property
    def running(self) -> bool:
        return self._started and not self._stopped

    def stop(self) -> None:
        """Clean shutdown: citizen data dropped, pending deliveries kept, `offline` announced. Safe to call
        again, and on a kiosk never started (its devices and database are still closed)."""
        if self._stopped:
            return
        self._stopped = True
        if self._started:
            self.watchdog.stop()
            self.ticker.stop()
            self.visits.end("shutdown")
            self._worker.stop()
            self.pump.stop()
            self.link.stop()
            try:
                self.heartbeat.write_status(running=False)
            except OSError as exc:
                log.warning("last status not written: %s", exc)
        self.hardware.close()
        self.store.close()
        log.info("kiosk %s stopped", self.device_id)

    # -- wiring ----------------------------------------------------------------------------------------
    def _read_health(self) -> BoothHealth:
        held = 0 if self.link.tls else self.outbox.waiting(PERSONAL_KINDS)
        return BoothHealth(self.driver_health(), self.link.connected, held, self.outbox.oldest_age_s() or 0,
                           self.maintainer.on, self.visits.current is not None)

    def _healthy_on_trial(self) -> bool:
        """What a release on trial must show for its whole commit window: every watched loop alive, and
        the broker connected or unreachable for network reasons (a refused login is this release's fault)."""
        link = self.link
        return not self.liveness.stuck() and link.network_alive() and (link.connected or not link.refused)

    def _show_health(self, before: BoothHealth | None, now: BoothHealth) -> None:
        """A health listener: the LEDs show the reading; the screens hear when what they show changed."""
        self.hardware.leds.show(now.led_pattern())
        status = self.status()
        if status != self._shown_status:
            self._shown_status = status
            self._notify(status)

    def _connection_changed(self, connected: bool) -> None:
        self.help.check()  # a saved call can leave now, or no longer
        if connected:
            self.pump.notify()
            self.heartbeat.publish()
        else:
            self.pump.connection_lost()

    def _run_command(self, topic: str, payload: bytes) -> None:
        """On the core worker: run a remote command and publish its one result."""
        result = self.commands.handle(topic[len(device_topic(self.device_id, "cmd/")):], payload)
        self.link.publish(command_result_topic(self.device_id),
                          encode(stamped(self.device_id, clock_synchronised(), result)), QOS_COMMANDS)

    # -- the facade: what the screens and tests call ------------------------------------------------------
    @property
    def session(self) -> CitizenSession | None:
        return self.visits.current

    @property
    def maintenance(self) -> bool:
        return self.maintainer.on

    def status(self) -> BoothStatus:
        """What the screens say about the booth (also pushed to them as it changes)."""
        return BoothStatus(self.link.connected, self.hardware.printer.health(), self.hardware.card_reader.health())

    def watch_loop(self, name: str, within_s: float) -> Callable[[], None]:
        """A loop outside the core (the UI's clock) that the watchdog should watch: call what this returns
        on every pass."""
        self.liveness.expect(name, within_s)
        return lambda: self.liveness.beat(name)

    def driver_health(self) -> dict[str, Health]:
        return {name: device.health() for name, device in self.hardware.fitted().items()}

    def refresh_health(self) -> None:
        """Look at the booth's health now (the ticker does it every second)."""
        self.health.refresh()

    def health_snapshot(self) -> dict[str, Any]:
        return self.heartbeat.snapshot()

    def publish_heartbeat(self) -> bool:
        return self.heartbeat.publish()

    def begin_session(self, elder: bool = False) -> CitizenSession:
        return self.visits.begin(elder)

    def touch(self) -> None:
        self.visits.touch()

    def end_session(self, reason: str = "finish") -> None:
        self.visits.end(reason)

    def forget_card(self) -> None:
        self.visits.forget_card()

    def lift_card(self) -> None:
        self.visits.lift_card()

    def card_present(self) -> bool:
        return self.visits.card_present()

    def view_guide(self, code: str) -> Item:
        return self.citizen.view_guide(code)

    def can_print(self) -> bool:
        return self.citizen.can_print()

    def print_notice(self, code: str) -> None:
        self.citizen.print_notice(code)

    def submit_application(self, code: str, form: dict[str, Any]) -> FiledReceipt:
        return self.citizen.submit_application(code, form)

    def bookable_days(self, today: date | None = None) -> list[date]:
        return self.citizen.bookable_days(today)

    def book_appointment(self, code: str, day: date, half: str) -> FiledReceipt:
        return self.citizen.book_appointment(code, day, half)

    def rate(self, code: str, level: int, comment: str = "", reasons: tuple[str, ...] = (),
             case_ref: str | None = None) -> None:
        self.citizen.rate(code, level, comment, reasons, case_ref)

    def rating_offered(self, code: str, case_ref: str | None = None) -> bool:
        return self.citizen.rating_offered(code, case_ref)

    def skip_rating(self, code: str, case_ref: str | None = None) -> None:
        self.citizen.skip_rating(code, case_ref)

    def query_progress(self, number: str, timeout_s: float = PROGRESS_TIMEOUT_S) -> dict[str, Any]:
        return self.progress.query(number, timeout_s)

    def query_progress_by_card(self, timeout_s: float = PROGRESS_TIMEOUT_S) -> dict[str, Any]:
        return self.progress.query_card(timeout_s)

    def request_assist(self, screen: str, mode: AssistMode = AssistMode.ON_SITE, phone: str | None = None,
                       code: str | None = None) -> AssistView:
        return self.help.request(screen, mode, phone, code)

    def assist_status(self) -> AssistView | None:
        return self.help.status()

    def can_speak(self) -> bool:
        return self.voice.available

    def speak(self, parts: list[Part], tag: str = "", english: bool = False, elder: bool = False) -> bool:
        """Say `parts` aloud without waiting (cutting what is being said); nothing personal is said."""
        return self.voice.say(parts, tag, english, elder)

    def hush(self) -> None:
        self.voice.hush()

    def enter_maintenance(self, pin: str) -> Attempt:
        return self.maintainer.enter(pin)

    def set_maintenance(self, on: bool) -> None:
        self.maintainer.set(on)

    def leave_maintenance(self) -> None:
        self.maintainer.set(False)

    def maintenance_facts(self) -> list[str]:
        return self.heartbeat.facts(self.config.device.site)

    def print_test_page(self) -> str:
        return self.maintainer.print_test_page()

    def test_card_reader(self, timeout_s: float = 20.0) -> str:
        return self.maintainer.test_card_reader(timeout_s)

    def cycle_leds(self) -> str:
        return self.maintainer.cycle_leds()

    def retry_delivery(self) -> str:
        return self.maintainer.retry_delivery()


def _booth_code(config: KioskConfig) -> str:
    """The booth code its receipt numbers carry: the provisioned one, or one made up from the device id."""
    if config.device.booth_code:
        return config.device.booth_code
    code = made_up_code(config.device.id)
    log.warning("[device] booth_code is not set: receipt numbers carry %s, made up from the device id, which "
                "another booth may share (central flags it); provision the code central's office gives", code)
    return code


def _ask_root(storage: Path, action: str) -> None:
    """Asks the root side for `action` unless such a request still waits: a kiosk restarted after asking (a
    power cut before the root side acted) would otherwise ask twice, and the second install would be refused
    as `on_trial` into the release's history."""
    actions = storage / "actions"
    if not any(actions.glob(f"{action}-*.request")):
        request_action(actions, f"{action}-{time.time_ns()}", action)


def _route_messages(inbox: Inbox, kiosk: Kiosk, updates: CatalogUpdates) -> None:
    """Which part hears which of central's messages; commands and catalogue updates take the core worker."""
    device = kiosk.device_id
    inbox.route(confirmation_topic(device), lambda topic, payload: kiosk.pump.confirmation(payload))
    inbox.route(assist_answer_topic(device), lambda topic, payload: kiosk.help.answer(payload))
    inbox.route(progress_answer_topic(device), lambda topic, payload: kiosk.progress.answer(payload))
    inbox.route(catalog_topic(kiosk.config.device.region), updates.receive, slow=True)
    inbox.route(release_offer_topic(device), lambda topic, payload: kiosk.fetcher.offer(payload))
    inbox.route(release_chunk_topic(device), lambda topic, payload: kiosk.fetcher.chunk(payload))
    inbox.route_prefix(device_topic(device, "cmd/"), kiosk._run_command, slow=True)


def _schedule_jobs(ticker: ticking.Ticker, kiosk: Kiosk) -> None:
    """The core ticker's table: every how many seconds, what (in this order within a pass)."""
    for interval_s, name, job in (
            (1, "session-idle", kiosk.visits.check_idle),
            (1, "assist-committed", kiosk.help.note_committed),
            (1, "assist", kiosk.help.check),
            (kiosk.config.heartbeat.interval_s, "heartbeat", kiosk.heartbeat.publish),
            (STATUS_EVERY_S, "status-file", kiosk.heartbeat.write_status),
            (1, "usage", kiosk.ledger.flush_if_due),
            (EXPIRE_EVERY_S, "outbox-expiry", kiosk.outbox.expire),
            (1, "outbox-full", kiosk.alerts.check_outbox_full),
            (1, "health", kiosk.health.refresh),
            (1, "release-trial", kiosk.trial.tick),
            (1, "release-fetch", kiosk.fetcher.tick)):
        ticker.every(interval_s, name, job)

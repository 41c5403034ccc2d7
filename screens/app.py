"""The booth's Kivy app: screens, navigation, the core's notifications on Kivy's thread, the privacy
countdown, and the lock-down (no Escape, no F1 settings, no closing, no cursor).

`theme.configure_kivy()` must run before this module is imported (it imports Kivy's window).
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.metrics import mm
from kivy.uix.modalview import ModalView
from kivy.uix.screenmanager import NoTransition, ScreenManager

from appliance.errors import CodedError
from appliance.events import (
    AssistChanged,
    BoothStatus,
    CardRead,
    CardRemoved,
    CardUnreadable,
    CatalogChanged,
    Scanned,
    ScanUnusable,
    SessionCountdown,
    SessionEnded,
    UiEvent,
)
from screens import theme
from screens.core_start import CoreStart
from screens.maintenance import CornerHold
from screens.strings import LANGUAGE, t
from screens.theme import SCALE
from screens.voice import Narrator
from screens.widgets import BigButton, Panel, Text

if TYPE_CHECKING:
    from appliance.catalog.search import SearchIndex
    from appliance.config import KioskConfig
    from appliance.kiosk import Kiosk

log = logging.getLogger("kiosk.screens")

try:
    _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim  # glibc (Raspberry Pi OS, Debian)
except (OSError, AttributeError):
    _malloc_trim = None


def return_free_heap() -> None:
    """Give the C heap's free pages back to the system (glibc keeps them otherwise, and RSS with them)."""
    if _malloc_trim is not None:
        _malloc_trim(0)

# Every screen by name: its module and class in `screens/`, imported and built when first entered.
SCREENS = {"home": "home:HomeScreen", "browse": "browse:BrowseScreen", "department": "browse:DepartmentScreen",
           "search": "search:SearchScreen", "guide": "guide:GuideScreen", "help": "help:HelpScreen",
           "do_here": "help:DoHereScreen", "identify": "apply:IdentifyScreen", "apply": "apply:ApplyScreen",
           "receipt": "apply:ReceiptScreen", "rate": "rate:RateScreen", "bundle": "browse:BundleScreen",
           "book": "book:BookScreen", "progress": "progress:ProgressScreen", "pin": "maintenance:PinScreen",
           "maintenance": "maintenance:MaintenanceScreen", "assist": "assist:AssistScreen",
           "assist_phone": "assist:PhoneScreen", "assist_status": "assist:AssistStatusScreen"}


class ScreensOnDemand(ScreenManager):
    """The screen manager that builds a screen when it is first asked for (entered, or given parameters).

    Only home is built for the first frame: importing and building all nineteen screens at start-up cost the
    citizen ~0.15 s of waiting for a screen they may never open. Once built, a screen stays (each entry
    rebuilds its body anyway, and `forget()` clears it when a session ends)."""

    def __init__(self, app: KioskApp, **kwargs) -> None:
        super().__init__(**kwargs)
        self.app = app

    def get_screen(self, name: str):
        if not self.has_screen(name):
            if name not in SCREENS:
                raise KeyError(f"no screen {name!r}: the screens are {sorted(SCREENS)}")
            module, cls = SCREENS[name].split(":")
            self.add_widget(getattr(importlib.import_module(f"screens.{module}"), cls)(self.app, name=name))
        return super().get_screen(name)


def collect_left_screens(manager: ScreenManager) -> None:
    """Free each screen's old widgets right after a screen change, not at the cyclic GC's whim.

    Every entry rebuilds a screen, and Kivy widgets hold reference cycles, so the old ones wait for
    a full collection; letting several screens' garbage pile up first raised the heap's high-water
    mark by ~30 MiB in a booth's first sessions (bench/bench_screens.py). The catalogue, search index
    and screens live as long as the app, so they are frozen out of collections first: a collection
    then walks only what the session made (tens of ms, on the clock tick after the change). When a
    session has ended (home again), the freed heap is handed back to the system too."""
    gc.collect()
    gc.freeze()

    def after_change(_dt: float) -> None:
        gc.collect()
        if manager.current == "home":
            return_free_heap()

    manager.bind(current=lambda *_args: Clock.schedule_once(after_change, 0))


class KioskApp(App):
    title = "kiosk"

    def __init__(self, config: KioskConfig, then: Callable[[KioskApp], None] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.site = config.device.site
        # The core starts once the first frame is up (screens/core_start.py); `then(app)` runs when it has.
        self.core = CoreStart(config, notify=self.notify, on_ready=lambda: Clock.schedule_once(self._core_up, -1),
                              on_failed=lambda _exc: Clock.schedule_once(lambda _dt: self.stop(), -1))
        self._then = then
        self._search_index: SearchIndex | None = None
        self.booth: BoothStatus | None = None  # the core's word on the booth, pushed as it changes: none yet
        self.history: list[str] = []
        self.countdown: ModalView | None = None
        self.identity: dict[str, str] = {}  # the masked name and ID number of the card in this session
        self.visited: list[str] = []  # items whose guide this session opened: what it may rate
        self.stop_asked = threading.Event()  # SIGTERM or Ctrl-C, perhaps before Kivy's loop runs
        self.narrator = Narrator(self)  # voice guidance: elder mode says each screen, the speaker button any

    @property
    def kiosk(self) -> Kiosk:
        """The core; an action that comes before it has started waits for it (screens/core_start.py)."""
        return self.core.kiosk()

    @property
    def search_index(self) -> SearchIndex:
        """Built from the shipped index at the first search, and again after a new catalogue."""
        if self._search_index is None:
            from appliance.catalog.search import SearchIndex  # not before the first frame: 85 ms of imports

            self._search_index = SearchIndex(self.kiosk.catalog.current)
        return self._search_index

    @property
    def portrait(self) -> bool:
        return Window.height > Window.width

    # -- Kivy ------------------------------------------------------------------------------------------
    def build(self) -> ScreenManager:
        SCALE.fit_screen(*Window.size)
        Window.clearcolor = theme.BACKGROUND
        Window.bind(on_request_close=lambda *_args, **_kw: True)  # closing the window does nothing
        Window.bind(on_keyboard=self._swallow_keys)
        Window.bind(on_touch_down=self._touched)
        corner = CornerHold(self)  # the maintainer's hidden way in
        Window.bind(on_touch_down=lambda _window, touch: corner.down(touch),
                    on_touch_up=lambda _window, touch: corner.up(touch))
        self.manager = ScreensOnDemand(self, transition=NoTransition())
        self.manager.current = "home"
        Clock.schedule_interval(lambda _dt: self.manager.current_screen.header.tick(), 2)
        return self.manager

    def on_start(self) -> None:
        if self.stop_asked.is_set():
            Clock.schedule_once(lambda _dt: self.stop(), 0)
        self.manager.current_screen.refresh()
        Window.bind(on_flip=self._first_frame_shown)

    def _first_frame_shown(self, *_args) -> None:
        Window.unbind(on_flip=self._first_frame_shown)
        self.core.begin()

    def _core_up(self, _dt: float) -> None:
        """On Kivy's thread, once the core runs: what the screens show of it, the UI loop's watch."""
        self.booth = self.kiosk.status()  # pushed by the core from now on (BoothStatus events)
        # The UI's own loop is watched too: a frozen Kivy thread stops the watchdog's pings.
        beat = self.kiosk.watch_loop("ui", within_s=10)
        Clock.schedule_interval(lambda _dt: beat(), 1)
        if self.manager.current == "home":
            self.manager.current_screen.refresh()  # the banners, the speaker button, portrait's services
        collect_left_screens(self.manager)
        if self._then is not None:
            self._then(self)

    def _touched(self, *_args) -> None:
        if self.core.ready:  # before, there is no session to keep alive
            self.kiosk.touch()

    def open_settings(self, *_args) -> bool:
        return False  # F1 opens nothing

    def _swallow_keys(self, _window, key: int, *_args) -> bool:
        return key in (27, 282, 1073741882)  # Escape, F1 (SDL2 codes): never leave the kiosk

    # -- navigation -----------------------------------------------------------------------------------
    def open(self, name: str, **params: Any) -> None:
        self.manager.get_screen(name).set_params(**params)  # from the defaults: nothing of an earlier opening
        self.kiosk.begin_session(elder=SCALE.elder)
        self._show(name, remember=True)

    def _show(self, name: str, remember: bool = False) -> None:
        """Make `name` the current screen, built afresh (entering a screen rebuilds it)."""
        if self.manager.current == name:
            self.manager.current_screen.refresh()
        else:
            if remember:
                self.history.append(self.manager.current)
            self.manager.current = name
        self.narrator.shown(self.manager.current_screen)  # the last screen's words stop here

    def assist_open(self) -> bool:
        """Whether this citizen has a call for help in hand (its status is shown instead of a new call)."""
        view = self.kiosk.assist_status()
        return view is not None and view.open

    def ask_for_help(self, screen: str, code: str | None) -> None:
        """The "需要帮助" button and the help screen's call: how to be helped, or the open call's status."""
        if self.assist_open():
            self.open("assist_status")
        else:
            self.open("assist", screen=screen, code=code)

    def open_result(self, code: str) -> None:
        """A search result: an item's guide, or a bundle's list of items."""
        self.open("bundle" if code.startswith("YJS-") else "guide", code=code)

    def back(self) -> None:
        self._show(self.history.pop() if self.history else "home")

    def go_home(self) -> None:
        self.kiosk.end_session("finish")
        self._reset_to_home()

    def _reset_to_home(self) -> None:
        """The citizen is gone: every screen forgets what it showed, and home comes back."""
        self.history.clear()
        self.visited.clear()
        self.identity = {}
        self.narrator.forget()
        SCALE.elder = LANGUAGE.english = False  # the next citizen starts in Chinese, normal type
        self._show("home")
        for screen in self.manager.screens:
            if screen.name != "home":
                screen.forget()

    # -- maintenance (the maintainer's screens; citizens never reach them) ------------------------------
    def show_maintenance_pin(self) -> None:
        self._show("pin")

    def show_maintenance(self) -> None:
        self._show("maintenance")

    def leave_maintenance(self) -> None:
        self.kiosk.leave_maintenance()
        self._reset_to_home()

    def toggle_elder(self) -> None:
        """Larger type for this citizen: it begins a session, so it ends with them (idle or finish)."""
        SCALE.elder = not SCALE.elder
        self.kiosk.begin_session(elder=SCALE.elder)
        self.manager.current_screen.refresh()
        self.narrator.shown(self.manager.current_screen)  # elder mode on: this screen is said at once

    def toggle_language(self) -> None:
        LANGUAGE.english = not LANGUAGE.english
        self.kiosk.begin_session(elder=SCALE.elder)
        self.manager.current_screen.refresh()
        self.narrator.shown(self.manager.current_screen)

    def in_background(self, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        """Run `work` (a print, a query to central) off Kivy's thread so the screen stays alive;
        `done(result)` runs back on Kivy's thread with the result or the `CitizenError` (a maintainer's
        action: `MaintenanceError`) raised."""
        def run() -> None:
            try:
                outcome = work()
            except CodedError as exc:
                outcome = exc
            Clock.schedule_once(lambda _dt: done(outcome), 0)

        threading.Thread(target=run, name="screen-work", daemon=True).start()

    # -- what the screens show about the device --------------------------------------------------------
    def banners(self, brief: bool = False) -> list[tuple[str, tuple]]:
        """What is wrong with the booth that a citizen should know, with its colour; `brief`: in a few words, for
        one status line that says them all."""
        shown = []
        if self.booth is None:
            return shown  # the core has not said yet: nothing to warn of that is known
        if not self.booth.online:
            shown.append((t("offline_brief" if brief else "offline"), theme.WARNING))
        if not self.booth.can_print:
            shown.append((t("printer_out_brief" if brief else "printer_out",
                            reason=LANGUAGE.reason(self.booth.printer.reason)), theme.DANGER))
        return shown

    # -- the core's events (from its threads) ----------------------------------------------------------
    def notify(self, event: UiEvent) -> None:
        Clock.schedule_once(lambda _dt: self.on_event(event), 0)

    def on_event(self, event: UiEvent) -> None:
        """On Kivy's thread: the handler for the event's class (events nobody here shows are dropped)."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(self, event, self.manager.current_screen)

    def _countdown(self, event: SessionCountdown, screen) -> None:
        self._show_countdown(event.remaining_s)

    def _session_ended(self, event: SessionEnded, screen) -> None:
        self._hide_countdown()
        self._reset_to_home()

    def _card_read(self, event: CardRead, screen) -> None:
        self.identity = {"name": event.name, "id_number": event.id_number}
        if screen.name == "identify":
            screen.show_identity(self.identity)
            self.narrator.identified()
        elif screen.name == "apply" and screen.waiting_for_card:
            screen.card_back(returning=event.returning)
        elif screen.name == "progress":
            screen.card_placed()  # the citizen's own cases, found by their card

    def _card_removed(self, event: CardRemoved, screen) -> None:
        if screen.name == "apply":
            screen.card_lifted()  # warned, and the form kept for a grace period
        elif screen.name in ("identify", "book") and screen.code and not (
                screen.name == "book" and screen.booked):  # a booking made stays on screen with its number
            self.card_gone(screen.code, then="book" if screen.name == "book" else screen.then,
                           message=t("card_removed"))

    def _card_unreadable(self, event: CardUnreadable, screen) -> None:
        if screen.name == "identify":
            screen.status.text = t("card_error")
            screen.status.color = theme.DANGER

    def _scanned(self, event: Scanned, screen) -> None:
        self.kiosk.touch()
        if screen.name != "progress":
            self.open("progress")
        self.manager.get_screen("progress").scanned(event.text)

    def _scan_unusable(self, event: ScanUnusable, screen) -> None:
        if screen.name == "progress":
            screen.answer.text = t("scan_error")

    def _assist_changed(self, event: AssistChanged, screen) -> None:
        if screen.name == "assist_status":
            screen.refresh()  # the call moved on (central's answer, the link, the booth's own wait)

    def _catalog_changed(self, event: CatalogChanged, screen) -> None:
        self._search_index = None  # search the new catalogue from the next search on

    def _booth_changed(self, event: BoothStatus, screen) -> None:
        self.booth = event
        screen.show_banners()

    _handlers: ClassVar[dict[type, Callable[..., None]]] = {
        SessionCountdown: _countdown, SessionEnded: _session_ended, CardRead: _card_read,
        CardRemoved: _card_removed, CardUnreadable: _card_unreadable, Scanned: _scanned,
        ScanUnusable: _scan_unusable, AssistChanged: _assist_changed, CatalogChanged: _catalog_changed,
        BoothStatus: _booth_changed,
    }

    def card_gone(self, code: str, then: str, message: str) -> None:
        """The citizen's card is no longer theirs to use here: back to "place your card" for `then`."""
        self.kiosk.forget_card()
        self.identity = {}
        self.open("identify", code=code, message=message, then=then)

    def _show_countdown(self, seconds: int) -> None:
        if self.countdown is None:
            self.countdown = ModalView(auto_dismiss=False, size_hint=(0.8, 0.5))
            box = Panel(orientation="vertical", padding=mm(5), spacing=mm(4), radius=mm(3))
            self.countdown_text = Text("", points=22, halign="center")
            box.add_widget(self.countdown_text)
            box.add_widget(BigButton(t("still_here"), self._still_here, name="still_here", points=22))
            self.countdown.add_widget(box)
            self.countdown.open()
            self.narrator.countdown(seconds)
        self.countdown_text.text = t("countdown", seconds=seconds)

    def _still_here(self) -> None:
        self.kiosk.touch()
        self.narrator.hush()
        self._hide_countdown()

    def _hide_countdown(self) -> None:
        if self.countdown is not None:
            self.countdown.dismiss()
            self.countdown = None


def run_app(config: KioskConfig, then: Callable[[KioskApp], None] | None = None) -> int:
    """Run the booth: the window and home first, then the core beside them (screens/core_start.py), until
    SIGTERM or Ctrl-C stops both cleanly. `then(app)` runs on Kivy's thread once the core is up (the UI tests'
    scenario player uses it). A core that cannot start stops the app and its error is raised here."""
    import signal

    app = KioskApp(config, then=then)

    def stop(*_args) -> None:
        app.stop_asked.set()  # asked before the loop runs: on_start stops it
        Clock.schedule_once(lambda _dt: app.stop(), 0)

    for sig in (signal.SIGTERM, signal.SIGINT):  # Ctrl-C too: a clean stop, not a traceback
        signal.signal(sig, stop)
    try:
        app.run()
    finally:
        app.core.stop()
    if app.core.error is not None:
        raise app.core.error
    return 0

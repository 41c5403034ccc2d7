"""The booth's core, started once the first frame is on the screen.

After a power cut or a watchdog restart the citizen waits for the screen, not for the core: importing and
starting the core (the outbox, the broker link, the drivers, the catalogue) took two thirds of the booth's
start-up. Kivy's window comes first; the core is built on its own thread once the first frame is up
(started earlier, it would only share the interpreter with the first frame and slow it down).

Until it is ready, nothing of the screens waits on it except an action that needs it: `kiosk()` blocks
the caller until the core is up (a fraction of a second after the first frame), so a touch that comes
that early is answered a moment late, never lost. A core that fails to start stops the app, and
`run_app` raises its error as before."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from appliance.events import Notify

if TYPE_CHECKING:
    from appliance.config import KioskConfig
    from appliance.kiosk import Kiosk


class CoreStart:
    """Builds and starts the core on a thread; `kiosk()` waits for it, `ready` says whether it is up."""

    def __init__(self, config: KioskConfig, notify: Notify, on_ready: Callable[[], None],
                 on_failed: Callable[[BaseException], None]) -> None:
        self._config = config
        self._notify = notify
        self._on_ready = on_ready  # called on the core's thread once it runs
        self._on_failed = on_failed
        self._done = threading.Event()
        self._kiosk: Kiosk | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._start, name="core-start", daemon=True)

    def begin(self) -> None:
        if not self._thread.is_alive() and not self._done.is_set():
            self._thread.start()

    @property
    def ready(self) -> bool:
        return self._kiosk is not None

    def kiosk(self) -> Kiosk:
        """The running core, waiting for it if it is still starting (starting it if nobody has)."""
        if self._kiosk is None:
            self.begin()
            self._done.wait()
            if self._kiosk is None:
                raise RuntimeError("the booth's core did not start (see the error above)") from self.error
        return self._kiosk

    def stop(self) -> None:
        """Stop the core, waiting for a start under way to finish first (never leaves it half started)."""
        if self._thread.is_alive():
            self._done.wait()
        if self._kiosk is not None:
            self._kiosk.stop()

    def _start(self) -> None:
        try:
            from appliance.kiosk import Kiosk  # here, not at the top: importing the core is what takes time

            kiosk = Kiosk(self._config, notify=self._notify)
            kiosk.start()
        except BaseException as exc:  # raised again by run_app once the app has stopped
            self.error = exc
            self._done.set()
            self._on_failed(exc)
            return
        self._kiosk = kiosk
        self._done.set()
        self._on_ready()

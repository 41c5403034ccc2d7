"""Started by tests/test_startup.py under Xvfb: what the booth has loaded at its first frame, and a finger on
"find a service" before the core is up. Prints one JSON line per moment.

    python tests/startup_probe.py CONFIG.toml [WIDTHxHEIGHT]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from screens.theme import configure_kivy

SLOW = ("appliance.kiosk", "appliance.delivery.outbox", "escpos.printer", "appliance.catalog.search", "screens.apply")


def main() -> None:
    width, height = (int(n) for n in (sys.argv[2] if len(sys.argv) > 2 else "800x480").split("x"))
    configure_kivy(width, height)
    from kivy.app import App
    from kivy.clock import Clock

    from appliance.config import load_config
    from screens.app import run_app

    def report(moment: str, app, **facts) -> None:
        print(json.dumps({"moment": moment, "core_ready": app.core.ready, "current": app.manager.current,
                          "screens": sorted(screen.name for screen in app.manager.screens),
                          "loaded": [name for name in SLOW if name in sys.modules], **facts}), flush=True)

    def widget(root, name: str):
        if getattr(root, "name", None) == name:
            return root
        return next((found for child in root.children if (found := widget(child, name)) is not None), None)

    def first_tick(_dt: float) -> None:
        app = App.get_running_app()
        report("first frame", app, services=services(app.root_window))
        widget(app.root_window, "tile_browse").dispatch("on_release")  # before the core is up: it waits for it
        report("tapped", app, departments=widget(app.root_window, "dept_公安") is not None)

    def services(root) -> int:  # portrait home's most used services, one button each
        return int(str(getattr(root, "name", "")).startswith("popular_")) + sum(services(c) for c in root.children)

    def core_up(app) -> None:
        report("core up", app)
        app.go_home()
        report("home again", app, services=services(app.root_window))
        app.stop()

    Clock.schedule_once(first_tick, 0)
    run_app(load_config(Path(sys.argv[1])), then=core_up)


if __name__ == "__main__":
    main()

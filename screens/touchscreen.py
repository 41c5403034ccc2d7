"""The touchscreen as `kiosk run` finds it: the `kiosk.touchscreen` entry point (the `screens` extra), so
the core never imports the screens."""

from __future__ import annotations

from appliance.config import KioskConfig


def run_touchscreen(config: KioskConfig, width: int = 800, height: int = 480, fullscreen: bool = False) -> int:
    """Configure Kivy before any of its modules opens the window, then run the app until it stops."""
    from screens.theme import configure_kivy

    configure_kivy(width, height, fullscreen=fullscreen)
    from screens.app import run_app

    return run_app(config)

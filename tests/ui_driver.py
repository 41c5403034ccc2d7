"""Runs the real booth app (real core, simulated devices) and plays a scenario on it with touch
events, as a finger would: each step taps a widget by its name, waits, or takes a screenshot. Prints
one JSON line per step with what the screen shows (for a tap: just before the finger lands).
Started by tests/test_screens.py under Xvfb.

    python tests/ui_driver.py CONFIG.toml WIDTHxHEIGHT SCENARIO.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from screens.theme import configure_kivy


def main() -> None:
    config_path, size, scenario_path = sys.argv[1:4]
    width, height = (int(n) for n in size.split("x"))
    configure_kivy(width, height)
    from appliance.config import load_config
    from screens.app import run_app

    steps = json.loads(Path(scenario_path).read_text(encoding="utf-8"))
    run_app(load_config(Path(config_path)), then=lambda app: play(app, steps))


def play(app, steps: list) -> None:
    from kivy.base import EventLoop
    from kivy.clock import Clock
    from kivy.tests.common import UTMotionEvent
    from kivy.uix.label import Label
    from kivy.uix.scrollview import ScrollView

    kiosk = app.kiosk
    printer_sim = kiosk.hardware.printer_sim

    def widgets(root):
        yield root
        for child in root.children:
            yield from widgets(child)

    def visible_text() -> list[str]:
        root = app.root_window
        return [w.text for w in widgets(root) if isinstance(w, Label) and w.text and w.opacity > 0]

    def find(name: str):
        for widget in widgets(app.root_window):
            if getattr(widget, "name", None) == name and widget.get_root_window() is not None:
                return widget
        raise LookupError(f"no widget named {name!r} on screen {app.manager.current!r}")

    def tap(widget) -> None:
        x, y = widget.to_window(*widget.center)
        win = EventLoop.window
        touch = UTMotionEvent("unittest", 1, {"x": x / win.width, "y": y / win.height})
        EventLoop.post_dispatch_input("begin", touch)
        EventLoop.post_dispatch_input("end", touch)

    def report(step, **extra) -> None:
        printed = [receipt.lines for receipt in printer_sim.receipts]
        print(json.dumps({"step": step, "screen": app.manager.current, "text": visible_text(), "printed": printed,
                          "session": kiosk.session is not None, **extra}, ensure_ascii=False), flush=True)

    def overflow(screen) -> list[str]:
        """Everything in the screen's body that a citizen would have to scroll to, or cannot see whole: a
        scroll view whose content is taller than it, a widget reaching outside the body (onto the footer,
        off the window), a label whose text is taller than the label."""
        found = []
        bx, by = screen.body.to_window(*screen.body.pos)
        bw, bh = screen.body.size
        for widget in widgets(screen.body):
            if widget is screen.body or widget.opacity == 0 or widget.get_root_window() is None:
                continue
            what = getattr(widget, "name", "") or getattr(widget, "text", "")[:24] or type(widget).__name__
            if isinstance(widget, ScrollView) and widget.children and widget.children[0].height > widget.height + 1:
                found.append(f"scrolls: {what} ({widget.children[0].height:.0f} > {widget.height:.0f})")
            shown = (isinstance(widget, Label) and widget.text) or getattr(widget, "name", "")
            if not shown:
                continue
            x, y = widget.to_window(*widget.pos)
            if x < bx - 2 or y < by - 2 or x + widget.width > bx + bw + 2 or y + widget.height > by + bh + 2:
                found.append(f"outside the body: {what} at {x:.0f},{y:.0f} {widget.width:.0f}x{widget.height:.0f} "
                             f"(body {bx:.0f},{by:.0f} {bw:.0f}x{bh:.0f})")
            elif isinstance(widget, Label) and widget.texture_size[1] > widget.height + 2:
                found.append(f"clipped: {what} ({widget.texture_size[1]:.0f} > {widget.height:.0f})")
        return found

    def parents(widget):
        while widget.parent is not None and widget.parent is not widget:
            widget = widget.parent
            yield widget

    def settle(step, name: str, index: int, last=None, tries: int = 0, then=None) -> None:
        """Tap once the widget stands still: a screen just built is laid out over the next frames. Then the
        next step, or `then` (one key of several a step taps, which reports once they are all tapped)."""
        try:
            widget = find(name)
        except LookupError as exc:
            if tries < 100:  # a screen being built under load: wait up to 5 s, as a citizen would
                Clock.schedule_once(lambda _dt: settle(step, name, index, None, tries + 1, then), 0.05)
                return
            report(step, error=str(exc))
            app.stop()
            return
        view = next((p for p in parents(widget) if isinstance(p, ScrollView)), None)
        if view is not None and tries == 0:
            view.scroll_to(widget, padding=10, animate=False)  # a finger would scroll it into sight first
        where = tuple(widget.to_window(*widget.center)) + tuple(widget.size)
        if where != last and tries < 40:
            Clock.schedule_once(lambda _dt: settle(step, name, index, where, tries + 1, then), 0.05)
            return
        if then is None:
            report(step, disabled=bool(widget.disabled), size=list(widget.size))  # what the finger had to hit, px
        tap(widget)
        Clock.schedule_once(lambda _dt: then() if then else run_step(index + 1), 0.3)

    def poll(step, index: int, action: str, what: str, deadline: float) -> None:
        """Wait for something outside the scenario's control: a text on screen (central answered) or a
        file the test makes when it has done its part (taken a request, stopped the broker)."""
        if any(what in text for text in visible_text()) if action == "until" else Path(what).exists():
            report(step)
            Clock.schedule_once(lambda _dt: run_step(index + 1), 0.3)
        elif time.monotonic() > deadline:
            report(step, error=f"{action} {what!r}: not within {step[2]} s")
            app.stop()
        else:
            Clock.schedule_once(lambda _dt: poll(step, index, action, what, deadline), 0.2)

    def run_step(index: int) -> None:
        if index == len(steps):
            app.stop()
            return
        step = steps[index]
        action, *args = step
        delay = 0.3
        try:
            if action == "tap":
                settle(step, args[0], index)
                return
            elif action == "burst":  # a restless finger: `count` taps on one widget within `seconds`
                widget, count, seconds = find(args[0]), int(args[1]), float(args[2])
                for n in range(count):
                    Clock.schedule_once(lambda _dt, w=widget: tap(w), n * seconds / count)
                delay = seconds + 0.5
            elif action == "key_in_receipt":  # the number of the last receipt, as a citizen keys it in
                lines = [line.strip() for line in printer_sim.receipts[-1].lines]
                number = lines[lines.index("受理编号") + 1].replace(" ", "")
                for digit in number:
                    app.manager.get_screen("progress").press(digit)
            elif action == "fits":  # what of the current screen does not fit: reported, for the test to judge
                report(step, overflow=overflow(app.manager.current_screen))
                Clock.schedule_once(lambda _dt: run_step(index + 1), 0.2)
                return
            elif action == "spell":  # pinyin keyed on the search keyboard shown: its letters, or the 九宫格's keys
                from appliance.catalog.keypad import keys_of

                on_keypad = app.manager.get_screen("search").on_keypad
                names = [f"t9_{keys_of(c)}" if on_keypad else f"key_{c}" for c in args[0]]

                def key_in(at: int) -> None:
                    if at == len(names):
                        report(step)
                        run_step(index + 1)
                    else:
                        settle(step, names[at], index, then=lambda: key_in(at + 1))

                key_in(0)
                return
            elif action == "type":
                app.manager.get_screen("search").type_text(args[0])
            elif action == "shot":
                Path(args[0]).parent.mkdir(parents=True, exist_ok=True)
                made = app.root_window.screenshot(args[0])  # Kivy numbers the file: name0001.png
                Path(made).replace(args[0])
                delay = 0.2
            elif action == "wait":
                delay = float(args[0])
            elif action == "printer":
                kiosk.hardware.printer_sim.set_state(**{args[0]: args[1]})
                delay = 1.5
            elif action == "card":  # a citizen places test citizen N on the reader, or takes it away (0)
                sim = kiosk.hardware.card_reader_sim
                if int(args[0]):
                    from drivers.card_reader_pty_sim import TEST_CITIZENS

                    sim.place(TEST_CITIZENS[int(args[0]) - 1])
                else:
                    sim.remove()
                delay = 1.5
            elif action == "reader":  # the card reader's USB adapter is pulled out (off) or comes back (on)
                if args[0] == "on":
                    kiosk.hardware.card_reader_sim.come_back()
                else:
                    kiosk.hardware.card_reader_sim.vanish()
                delay = 2.0
            elif action == "scan":  # a citizen holds a QR code under the scanner
                kiosk.hardware.scanner_sim.scan(args[0])
                delay = 1.5
            elif action == "hold":  # a finger held still in the top-left corner for `args[0]` seconds
                corner = UTMotionEvent("unittest", 2, {"x": 0.01, "y": 0.99})
                EventLoop.post_dispatch_input("begin", corner)
                Clock.schedule_once(lambda _dt: EventLoop.post_dispatch_input("end", corner), float(args[0]))
                delay = float(args[0]) + 0.5
            elif action == "look":
                pass
            elif action in ("until", "await"):  # until a text shows / a file the test makes appears
                poll(step, index, action, args[0], time.monotonic() + float(args[1]))
                return
            elif action == "key":  # a hardware key (Escape 27, F1 282): the kiosk must stay put
                EventLoop.window.dispatch("on_keyboard", int(args[0]), 0, "", [])
            elif action == "close":  # the window manager asks the window to close
                EventLoop.window.dispatch("on_request_close")
            elif action == "idle":  # the citizen walked away `args[0]` seconds ago
                if kiosk.session is not None:
                    kiosk.session.last_touch -= float(args[0])
                delay = 1.5
            else:
                raise ValueError(f"unknown step {action}")
            report(step)  # every step reports: line i of the output is step i
        except Exception as exc:  # the scenario tells the test what went wrong, then stops
            report(step, error=f"{type(exc).__name__}: {exc}")
            app.stop()
            return
        Clock.schedule_once(lambda _dt: run_step(index + 1), delay)

    Clock.schedule_once(lambda _dt: run_step(0), 2.0)  # the first frames lay the screen out


if __name__ == "__main__":
    main()

"""Targeted checks behind bench_restless.py's findings, each repeated N times on the real app under
Xvfb, counting what stays alive (after a full collection) and RSS before and after:

- receipt: the receipt screen entered N times with a new case number (a QR texture each time);
- elder: home rebuilt N times switching elder mode (every type size in both modes);
- identify_error_removed: on the identify screen, an unreadable card taken away (card_error, then
  card_removed) N times: the screen is rebuilt while its "place your card" pulse still runs;
- apply_lifted_twice: on the form, the card lifted, an unreadable card placed and lifted again, N times.

    [PROBES=receipt,elder] .venv/bin/python bench/probe_screen_leaks.py [N]
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_restless import open_fonts, proc_status, start_xvfb  # noqa: E402


def counts() -> dict:
    from kivy.animation import Animation
    from kivy.clock import Clock
    from kivy.graphics.texture import Texture
    from kivy.uix.widget import Widget

    gc.collect()
    objects = gc.get_objects()
    return {"rss": round(proc_status()["VmRSS"], 1),
            "widgets": sum(1 for o in objects if issubclass(type(o), Widget)),
            "textures": sum(1 for o in objects if issubclass(type(o), Texture)),
            "animations": len(Animation._instances), "clock_events": len(Clock.get_events()),
            "font_faces": open_fonts()}


def child(config: str, repeats: int) -> None:
    from screens.theme import configure_kivy

    configure_kivy(800, 480)
    from kivy.clock import Clock

    from appliance.config import load_config
    from appliance.events import CardRemoved, CardUnreadable
    from appliance.services.citizen import FiledReceipt
    from screens.app import run_app

    def probes(app):
        item = next(i for i in app.kiosk.catalog.current.items if "apply" in i.actions)

        def receipt(n):
            app.open("receipt", receipt=FiledReceipt(f"01JD{n:022d}", item.code, printed=True))

        def elder(_n):
            app.toggle_elder()

        def identify_error_removed(n):
            if n == 0:
                app.open("identify", code=item.code, message="", then="apply")
            app.on_event(CardUnreadable("read"))
            app.on_event(CardRemoved())

        def apply_lifted_twice(n):
            if n == 0:
                app.kiosk.begin_session()
                app.identity = {"name": "欧**娜", "id_number": "3702**********0021"}
                app.open("apply", code=item.code)
            screen = app.manager.get_screen("apply")
            screen.card_lifted()
            screen.card_lifted()  # an unreadable card came and went: a second "removed"
            screen.card_back(returning=True)
        chosen = os.environ.get("PROBES", "").split(",")
        return [p for p in (receipt, elder, identify_error_removed, apply_lifted_twice)
                if chosen == [""] or p.__name__ in chosen]

    def run(app, queue, name=None, n=0, before=None):
        if name is None:
            if not queue:
                app.stop()
                return
            probe = queue.pop(0)
            app.go_home()
            Clock.schedule_once(lambda _dt: run(app, queue, probe, 0, counts()), 1.0)
            return
        if n < repeats:
            name(n)
            Clock.schedule_once(lambda _dt: run(app, queue, name, n + 1, before), 0.05)
            return

        def report(_dt):
            print(json.dumps({"probe": name.__name__, "repeats": repeats, "before": before, "after": counts()}),
                  flush=True)
            run(app, queue)
        Clock.schedule_once(report, 1.0)  # a second for the screens to settle

    run_app(load_config(Path(config)), then=lambda app: Clock.schedule_once(lambda _dt: run(app, probes(app)), 2))


def main() -> None:
    from tests.support import free_port, kiosk_config_data, write_toml

    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    xvfb, display = start_xvfb()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = write_toml(Path(tmp) / "kiosk.toml", kiosk_config_data(Path(tmp) / "state", free_port()))
            started = time.monotonic()
            done = subprocess.run([sys.executable, __file__, "--child", str(config), str(repeats)],
                                  capture_output=True, text=True, timeout=900, env={**os.environ, "DISPLAY": display})
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"probe failed:\n{done.stderr[-3000:]}")
    print(f"{repeats} repetitions each ({time.monotonic() - started:.0f} s); alive after a full collection:")
    for line in lines:
        b, a = line["before"], line["after"]
        print(f"  {line['probe']:24s} " + "  ".join(f"{k} {b[k]}→{a[k]}" for k in b))
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if "Error" in line or "Traceback" in line]
        raise SystemExit(f"the app failed (exit {done.returncode}):\n" + "\n".join(errors[-20:]))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
    else:
        main()

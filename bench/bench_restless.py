"""A restless citizen at the touchscreen: the real booth app (real core, simulated devices) on Xvfb,
played seeded random input for `--minutes`, while its liveness and memory are watched.

Input, as a confused or impatient person would give it: taps on random visible, enabled buttons
(found by walking the widget tree, as tests/ui_driver.py does), bursts of 20 taps in a second, long
presses (some in the maintainer's corner), drags, Escape / F1 / Alt+F4 and the window manager's close
request, ID cards placed and taken away, short pauses, and pauses long enough for the session to time
out (`session.idle_timeout_s` is shortened to 20 s, countdown 8 s, elder 30 s, so timeouts are many).

The broker: a private Mosquitto started here (tests.support.Mosquitto), as a connected booth has;
`--no-broker` points the booth at a closed port instead (offline booth, outbox grows on disk).

Reported as it runs (every ~30 s) and at the end: RSS (and anonymous RSS), events played, screens
reached with counts, sessions ended (by finish / timeout), liveness (the largest gap between two Kivy
clock ticks, stalls over 2 s seen by a watcher thread, and whether the app crashed or hung).

Baseline in the same run: the same app, same config, left idle at home for `--baseline-minutes`
(default: as long as the restless run), sampled the same way. The restless figures are printed beside
it, and beside the restless run's own RSS after its first minute (warm-up vs. growth).

`--diag` adds, at every sample (after a gc.collect(), so only reachable objects count): live Kivy
widgets by class, textures, running Animations, scheduled Clock events by callback, Kivy caches, threads,
glibc's heap (mallinfo2: in use vs. free but kept) and how much RSS a malloc_trim would give back
(then it trims: diag runs' RSS is not the production RSS). `--tracemalloc` adds the Python
allocations that grew most since the first minute.

    .venv/bin/python bench/bench_restless.py --minutes 3 --seed 1 [--diag] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import select
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLE_S = 30.0
STALL_S = 2.0  # a gap between clock ticks longer than this is a stall a citizen would notice
HANG_S = 120.0  # no line from the app for this long: it is hung


# -- memory of this process --------------------------------------------------------------------------
def proc_status() -> dict[str, float]:
    """RSS, anonymous and file-backed RSS of this process in MiB (from /proc/self/status)."""
    out = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    return out


def mallinfo() -> dict[str, float] | None:
    """glibc's main view of its heap, in MiB: `used` by live allocations, `free` kept in the arenas,
    `mmap` in large mmapped blocks, `top` the releasable top of the main arena."""
    import ctypes

    class Mallinfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                     "fordblks", "keepcost")]

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = Mallinfo2
    except (OSError, AttributeError):
        return None
    info = libc.mallinfo2()
    mib = 2 ** 20
    return {"arena": info.arena / mib, "used": info.uordblks / mib, "free": info.fordblks / mib,
            "mmap": info.hblkhd / mib, "top": info.keepcost / mib}


def open_fonts() -> int:
    """Font faces SDL_ttf holds open: one per font file and size (Kivy caps them at 64), each holding its
    file open, so counted from this process's file descriptors. A Noto Sans CJK face costs ~2.5 MiB."""
    faces = 0
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            faces += os.readlink(fd).endswith((".ttc", ".ttf", ".otf"))
    return faces


# -- inside the app's process ------------------------------------------------------------------------
def child(mode: str, config_path: str, size: str, seed: int, seconds: float, diag: bool, trace: bool,
          clear_on_leave: bool) -> None:
    if trace:
        import tracemalloc

        tracemalloc.start(1)
    started = time.monotonic()
    width, height = (int(n) for n in size.split("x"))
    from screens.theme import configure_kivy

    configure_kivy(width, height)
    if clear_on_leave:  # the experiment behind the second proposed fix: a screen left drops its widgets
        from screens.widgets import KioskScreen

        def dropped(screen) -> None:
            screen.body.clear_widgets()
            screen.footer.clear_widgets()

        KioskScreen.on_leave = lambda self, *_args: dropped(self)  # Identify's own on_leave is wrapped in Player
    from appliance.config import load_config
    from screens.app import run_app

    def emit(kind: str, **data) -> None:
        print(json.dumps({"kind": kind, "t": round(time.monotonic() - started, 1), **data}, ensure_ascii=False),
              flush=True)

    def start(app) -> None:
        if clear_on_leave:  # screens are built when first entered: each one as it comes
            def clear_after_leaving(_manager, screens) -> None:
                for screen in screens:
                    if "on_leave" in type(screen).__dict__ and not getattr(screen, "cleared_on_leave", False):
                        screen.cleared_on_leave = True  # overridden (identify, maintenance): drop after it
                        screen.bind(on_leave=lambda s, *_a: (s.body.clear_widgets(), s.footer.clear_widgets()))

            app.manager.bind(screens=clear_after_leaving)
            clear_after_leaving(app.manager, app.manager.screens)
        Player(app, mode, seed, seconds, diag, trace, emit)

    run_app(load_config(Path(config_path)), then=start)


class Player:
    """Plays the restless citizen (or nobody, in `idle` mode) on Kivy's thread and reports."""

    def __init__(self, app, mode: str, seed: int, seconds: float, diag: bool, trace: bool, emit) -> None:
        import threading

        from kivy.clock import Clock

        from appliance.events import SessionEnded, UiEvent

        self.app, self.mode, self.seconds, self.diag, self.trace, self.emit = app, mode, seconds, diag, trace, emit
        self.rng = random.Random(seed)
        self.began = time.monotonic()
        self.events = Counter()  # what was played, by kind
        self.screens = Counter({app.manager.current: 1})
        self.sessions = Counter()  # ended, by reason
        self.touch_id = 100
        self.last_frame = time.monotonic()
        self.max_gap = 0.0
        self.stalls: list[float] = []
        self.rss_first_minute: float | None = None
        self.trace_base = None
        self.in_sample = False  # a diagnostic census is running: its pause is not the app's
        self.sample_s = 0.0  # time spent in diagnostic censuses (excluded from the clock gaps)
        app.manager.bind(current=lambda _m, name: self.screens.update([name]))
        notify = app.notify

        def counting_notify(event: UiEvent) -> None:  # the core's events, from its threads
            if isinstance(event, SessionEnded):
                self.sessions.update([event.reason])
            notify(event)

        app.notify = counting_notify  # run_app's holder calls app.notify: this instance's attribute
        Clock.schedule_interval(self._frame, 0)
        Clock.schedule_interval(lambda _dt: self.sample(), SAMPLE_S)
        threading.Thread(target=self._watch, name="bench-watch", daemon=True).start()
        self.sample()
        Clock.schedule_once(lambda _dt: self.step(), 2.0)  # the first frames lay the home screen out

    # -- liveness ---------------------------------------------------------------------------------------
    def _frame(self, _dt) -> None:
        now = time.monotonic()
        self.max_gap = max(self.max_gap, now - self.last_frame)
        self.last_frame = now

    def _watch(self) -> None:
        """From outside Kivy's thread: a clock that stops ticking is reported while it is stopped."""
        reported = 0.0
        while True:
            time.sleep(0.5)
            gap = time.monotonic() - self.last_frame
            if self.in_sample:
                continue
            if gap > STALL_S and gap > reported + STALL_S:
                self.emit("stall", gap_s=round(gap, 1), screen=self.app.manager.current)
                reported = gap
            elif gap <= STALL_S:
                if reported:
                    self.stalls.append(round(reported, 1))
                reported = 0.0

    # -- reports --------------------------------------------------------------------------------------
    def sample(self, final: bool = False) -> None:
        import gc

        entered = time.monotonic()
        self.in_sample = True
        elapsed = entered - self.began
        memory = proc_status()
        if self.rss_first_minute is None and elapsed >= 60:
            self.rss_first_minute = memory["VmRSS"]
        printer = self.app.kiosk.hardware.printer_sim
        data = {"rss": round(memory["VmRSS"], 1), "anon": round(memory["RssAnon"], 1),
                "events": sum(self.events.values()) + 19 * self.events["burst"],  # a burst is 20 taps
                "played": dict(self.events), "screens": dict(self.screens),
                "sessions": dict(self.sessions), "max_gap_s": round(self.max_gap, 2), "stalls": list(self.stalls),
                "screen": self.app.manager.current, "receipts": len(printer.receipts) if printer else 0,
                "font_faces": open_fonts()}
        if self.diag:
            data["diag"] = self.census()
            before = proc_status()["VmRSS"]
            from screens.app import return_free_heap

            return_free_heap()
            data["diag"]["trim_gives_back_mib"] = round(before - proc_status()["VmRSS"], 1)
        if self.trace and (final or self.trace_base is None or int(elapsed // SAMPLE_S) % 4 == 0):
            data["tracemalloc"] = self.traced(elapsed)  # slow (seconds): every other minute
        gc.collect(0)
        self.sample_s += time.monotonic() - entered
        data["census_s"] = round(self.sample_s, 1)
        self.emit("final" if final else "sample", **data)
        self.last_frame = time.monotonic()
        self.in_sample = False

    def census(self) -> dict:
        """Reachable objects after a full collection: what would keep growing in a leak."""
        import gc
        import threading

        from kivy.animation import Animation
        from kivy.cache import Cache
        from kivy.clock import Clock
        from kivy.graphics.texture import Texture
        from kivy.uix.widget import Widget

        collected = gc.collect()
        widgets, kinds = Counter(), Counter()
        textures = texture_bytes = 0
        for obj in gc.get_objects():  # the frozen start-up objects are not in this walk
            if isinstance(type(obj), type) and issubclass(type(obj), Widget):  # not weak proxies to them
                widgets[type(obj).__name__] += 1
            elif issubclass(type(obj), Texture):
                textures += 1
                texture_bytes += obj.width * obj.height * 4
            kinds[type(obj).__name__] += 1
        events = Counter()
        for event in Clock.get_events():
            callback = event.get_callback()
            name = getattr(callback, "__qualname__", type(callback).__name__) if callback else "dead"
            events[f"{name}{' (interval)' if event.loop else ''}"] += 1
        caches = {category: len(objects) for category, objects in getattr(Cache, "_objects", {}).items() if objects}
        heap = mallinfo()
        return {"gc_collected": collected, "frozen": gc.get_freeze_count(),
                "tracked": sum(kinds.values()),
                "widgets": sum(widgets.values()), "widgets_by_class": dict(widgets.most_common(12)),
                "textures": textures, "texture_mib": round(texture_bytes / 2 ** 20, 1),
                "animations": len(Animation._instances),
                "animated": Counter(type(w).__name__ for a in Animation._instances for w in a._widgets.values()
                                    if isinstance(w, dict) and "widget" in w and w["widget"] is not None),
                "clock_events": sum(events.values()), "clock_by_callback": dict(events.most_common(8)),
                "caches": caches, "threads": threading.active_count(),
                "top_types": dict(kinds.most_common(10)),
                "heap": {k: round(v, 1) for k, v in heap.items()} if heap else None}

    def traced(self, elapsed: float) -> dict:
        import tracemalloc

        snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        total = sum(stat.size for stat in snapshot.statistics("filename")) / 2 ** 20
        if self.trace_base is None and elapsed >= 60:
            self.trace_base = snapshot
        grown = []
        if self.trace_base is not None and self.trace_base is not snapshot:
            for stat in snapshot.compare_to(self.trace_base, "lineno")[:8]:
                frame = stat.traceback[0]
                where = f"{Path(frame.filename).relative_to(ROOT) if frame.filename.startswith(str(ROOT)) else Path(frame.filename).name}:{frame.lineno}"  # noqa: E501
                grown.append([where, round(stat.size_diff / 1024), stat.count_diff])
        return {"python_mib": round(total, 1), "grown_since_1min_kib": grown}

    # -- the citizen ----------------------------------------------------------------------------------
    def step(self) -> None:
        from kivy.clock import Clock

        if time.monotonic() - self.began >= self.seconds:
            self.sample(final=True)
            self.app.stop()
            return
        delay = 1.0
        if self.mode == "restless":
            try:
                delay = self.play_one()
            except Exception as exc:  # an exception out of the app's own handlers would have crashed it
                import traceback

                self.emit("crash", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()[-3000:],
                          screen=self.app.manager.current)
                self.sample(final=True)
                self.app.stop()
                return
        Clock.schedule_once(lambda _dt: self.step(), delay)

    def play_one(self) -> float:
        """Play one event (or start one gesture); returns the seconds until the next."""
        kind = self.rng.choices(["tap", "burst", "long_press", "drag", "key", "card", "pause", "walk_away"],
                                weights=[52, 5, 6, 9, 5, 8, 10, 3])[0]
        self.events.update([kind])
        if kind == "tap":
            self.tap_random()
            return self.rng.uniform(0.2, 1.5)
        if kind == "burst":  # twenty taps in a second, on whatever is under the finger by then
            from kivy.clock import Clock

            for n in range(20):
                Clock.schedule_once(lambda _dt: self.tap_random(), n * 0.05)
            return 1.2
        if kind == "long_press":
            return self.long_press()
        if kind == "drag":
            return self.drag()
        if kind == "key":
            self.key()
            return self.rng.uniform(0.2, 1.0)
        if kind == "card":
            from drivers.card_reader_pty_sim import TEST_CITIZENS

            sim = self.app.kiosk.hardware.card_reader_sim
            if sim.card is None:
                sim.place(self.rng.choice(TEST_CITIZENS))
            else:
                sim.remove()
            return self.rng.uniform(0.5, 2.5)
        if kind == "pause":
            return self.rng.uniform(2, 8)
        return self.rng.uniform(20, 45)  # walk_away: longer than the idle timeout (20 s) plus countdown

    # -- fingers --------------------------------------------------------------------------------------
    def buttons(self) -> list:
        from kivy.uix.button import Button
        from kivy.uix.scrollview import ScrollView

        win = self.app.root_window

        def walk(widget):
            yield widget
            for child in widget.children:
                yield from walk(child)

        found = []

        def visible(widget) -> bool:
            x, y = widget.to_window(*widget.center)
            if not (0 <= x < win.width and 0 <= y < win.height):
                return False
            parent = widget.parent
            while parent is not None and parent is not parent.parent:
                if isinstance(parent, ScrollView):
                    left, bottom = parent.to_window(parent.x, parent.y)
                    if not (left <= x < left + parent.width and bottom <= y < bottom + parent.height):
                        return False
                if getattr(parent, "opacity", 1) == 0:
                    return False
                parent = parent.parent
            return True

        for widget in walk(win):
            if (isinstance(widget, Button) and not widget.disabled and widget.opacity > 0
                    and widget.get_root_window() is not None and visible(widget)):
                found.append(widget)
        return found

    def touch(self, x: float, y: float):
        from kivy.tests.common import UTMotionEvent

        win = self.app.root_window
        self.touch_id += 1
        return UTMotionEvent("unittest", self.touch_id, {"x": x / win.width, "y": y / win.height})

    def tap_at(self, x: float, y: float) -> None:
        from kivy.base import EventLoop

        touch = self.touch(x, y)
        EventLoop.post_dispatch_input("begin", touch)
        EventLoop.post_dispatch_input("end", touch)

    def tap_random(self) -> None:
        buttons = self.buttons()
        if not buttons:
            win = self.app.root_window
            self.tap_at(self.rng.uniform(0, win.width), self.rng.uniform(0, win.height))
            return
        button = self.rng.choice(buttons)
        x, y = button.to_window(*button.center)
        self.tap_at(x + self.rng.uniform(-0.3, 0.3) * button.width, y + self.rng.uniform(-0.3, 0.3) * button.height)

    def long_press(self) -> float:
        from kivy.base import EventLoop
        from kivy.clock import Clock

        win = self.app.root_window
        buttons = self.buttons()
        if self.rng.random() < 0.3 or not buttons:  # the top-left corner: the maintainer's gesture
            x, y = win.width * 0.01, win.height * 0.99
        else:
            x, y = self.rng.choice(buttons).to_window(*self.rng.choice(buttons).center)
        held = self.rng.uniform(0.8, 4.0)
        touch = self.touch(x, y)
        EventLoop.post_dispatch_input("begin", touch)
        Clock.schedule_once(lambda _dt: EventLoop.post_dispatch_input("end", touch), held)
        return held + 0.3

    def drag(self) -> float:
        from kivy.base import EventLoop
        from kivy.clock import Clock

        win = self.app.root_window
        x, y = self.rng.uniform(0.1, 0.9) * win.width, self.rng.uniform(0.2, 0.8) * win.height
        dx, dy = self.rng.uniform(-0.3, 0.3) * win.width, self.rng.uniform(-0.6, 0.6) * win.height
        moves, duration = self.rng.randint(4, 12), self.rng.uniform(0.2, 1.0)
        touch = self.touch(x, y)
        EventLoop.post_dispatch_input("begin", touch)

        def move(n: int) -> None:
            px = min(max(x + dx * n / moves, 0), win.width - 1)
            py = min(max(y + dy * n / moves, 0), win.height - 1)
            touch.move({"x": px / win.width, "y": py / win.height})
            EventLoop.post_dispatch_input("update", touch)
            if n == moves:
                EventLoop.post_dispatch_input("end", touch)

        for n in range(1, moves + 1):
            Clock.schedule_once(lambda _dt, n=n: move(n), duration * n / moves)
        return duration + 0.3

    def key(self) -> None:
        from kivy.base import EventLoop

        win = EventLoop.window
        which = self.rng.choice(["escape", "f1", "alt_f4", "close"])
        if which == "escape":
            win.dispatch("on_keyboard", 27, 41, "", [])
        elif which == "f1":
            win.dispatch("on_keyboard", 282, 58, "", [])
        elif which == "alt_f4":  # the key, then what the window manager does with it
            win.dispatch("on_keyboard", 285, 61, "", ["alt"])
            win.dispatch("on_request_close")
        else:
            win.dispatch("on_request_close")


# -- the bench ---------------------------------------------------------------------------------------
def start_xvfb() -> tuple[subprocess.Popen, str]:
    for number in range(90 + os.getpid() % 400, 600):
        if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
            continue
        server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1080x1920x24", "-nolisten", "tcp"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        if server.poll() is None:
            return server, f":{number}"
    raise SystemExit("Xvfb did not start")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once this socket is closed


def run_child(mode: str, args, config: Path, env: dict, label: str) -> dict:
    """Runs one app process, prints its samples as they come; returns its last sample and what happened."""
    seconds = (args.minutes if mode == "restless" else args.baseline_minutes) * 60
    command = [sys.executable, __file__, "--child", mode, str(config), args.size, str(args.seed), str(seconds),
               "1" if args.diag else "0", "1" if args.tracemalloc else "0",
               "1" if args.clear_on_leave else "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               bufsize=1)
    samples, stalls, crash = [], [], None
    last_line = time.monotonic()
    hung = False
    assert process.stdout is not None
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            ready, _, _ = select.select([process.stdout], [], [], 5)
            if ready:
                line = process.stdout.readline()
                if not line:
                    break
                last_line = time.monotonic()
                if not line.startswith("{"):
                    continue
                record = json.loads(line)
                if record["kind"] in ("sample", "final"):
                    samples.append(record)
                    print(f"  [{label} {record['t']:6.0f} s] RSS {record['rss']:6.1f} MiB (anon {record['anon']:.1f})"
                          f"  events {record['events']:4d}  sessions ended {sum(record['sessions'].values()):3d}"
                          f"  max clock gap {record['max_gap_s']:.2f} s  font faces {record.get('font_faces')}"
                          f"  on {record['screen']}", flush=True)
                    if "diag" in record:
                        print_diag(record)
                    if "tracemalloc" in record:
                        print(f"      python heap {record['tracemalloc']['python_mib']} MiB; grown since 1 min: "
                              f"{record['tracemalloc']['grown_since_1min_kib']}", flush=True)
                elif record["kind"] == "stall":
                    stalls.append(record)
                    print(f"  [{label} {record['t']:6.0f} s] STALL: no clock tick for {record['gap_s']} s "
                          f"on {record['screen']}", flush=True)
                elif record["kind"] == "crash":
                    crash = record
                    print(f"  [{label} {record['t']:6.0f} s] CRASH on {record['screen']}: {record['error']}\n"
                          f"{record['traceback']}", flush=True)
            if time.monotonic() - last_line > HANG_S:
                hung = True
                print(f"  [{label}] HUNG: no report for {HANG_S:.0f} s; killing it", flush=True)
                process.kill()
                break
    process.wait(timeout=60)
    stderr = process.stderr.read() if process.stderr else ""
    return {"samples": samples, "stalls": stalls, "crash": crash, "hung": hung, "rc": process.returncode,
            "stderr": stderr[-3000:]}


def print_diag(record: dict) -> None:
    d = record["diag"]
    heap = d["heap"] or {}
    print(f"      widgets {d['widgets']} {d['widgets_by_class']}\n"
          f"      textures {d['textures']} ({d['texture_mib']} MiB)  animations {d['animations']} {d['animated']}"
          f"  clock events {d['clock_events']}  threads {d['threads']}  gc tracked {d['tracked']} "
          f"(frozen {d['frozen']}, collected {d['gc_collected']})\n"
          f"      clock by callback {d['clock_by_callback']}\n"
          f"      caches {d['caches']}  top types {d['top_types']}\n"
          f"      glibc heap: arena {heap.get('arena')} used {heap.get('used')} free {heap.get('free')} "
          f"mmap {heap.get('mmap')} MiB; malloc_trim gave back {d['trim_gives_back_mib']} MiB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--baseline-minutes", type=float, default=None,
                        help="the idle-at-home baseline's length (default: --minutes; 0 skips it)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--size", default="800x480")
    parser.add_argument("--no-broker", action="store_true", help="no broker reachable (an offline booth)")
    parser.add_argument("--diag", action="store_true", help="object counts, Clock events, glibc heap per sample")
    parser.add_argument("--tracemalloc", action="store_true", help="Python allocations grown since minute 1")
    parser.add_argument("--clear-on-leave", action="store_true",
                        help="experiment: a screen left drops its widgets (they are rebuilt on entry anyway)")
    args = parser.parse_args()
    if args.baseline_minutes is None:
        args.baseline_minutes = args.minutes
    from tests.support import Mosquitto, kiosk_config_data, write_toml

    xvfb, display = start_xvfb()
    env = {**os.environ, "DISPLAY": display}
    broker = None
    results = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if not args.no_broker:
                broker = Mosquitto(Path(tmp) / "broker").start()
            port = broker.port if broker else closed_port()
            print(f"restless citizen: {args.minutes:g} min, seed {args.seed}, {args.size}, Xvfb {display}, "
                  f"broker {'Mosquitto on ' + str(port) if broker else 'none reachable'}"
                  f"{', diag' if args.diag else ''}{', tracemalloc' if args.tracemalloc else ''}"
                  f"{', screens dropped on leave' if args.clear_on_leave else ''}", flush=True)
            for mode, minutes in (("idle", args.baseline_minutes), ("restless", args.minutes)):
                if minutes <= 0:
                    continue
                state = Path(tmp) / f"state-{mode}"
                config = write_toml(Path(tmp) / f"kiosk-{mode}.toml", kiosk_config_data(
                    state, port, session={"idle_timeout_s": 20, "elder_idle_timeout_s": 30, "countdown_s": 8}))
                print(f"{'baseline: idle at home' if mode == 'idle' else 'restless citizen'} ({minutes:g} min):",
                      flush=True)
                results[mode] = run_child(mode, args, config, env, mode)
    finally:
        if broker is not None:
            broker.stop()
        xvfb.terminate()
        xvfb.wait(timeout=10)
    summary(args, results)


def summary(args, results: dict) -> None:
    print("\nsummary")
    restless = results.get("restless")
    idle = results.get("idle")
    for name, run in results.items():
        if run["crash"] or run["hung"] or run["rc"] != 0 or not run["samples"]:
            print(f"  {name}: FAILED (crash {bool(run['crash'])}, hung {run['hung']}, exit {run['rc']})\n"
                  f"{run['stderr']}")
    if not restless or not restless["samples"]:
        raise SystemExit(1)
    s = restless["samples"]
    first, last = s[0], s[-1]
    at_1min = next((x for x in s if x["t"] >= 60), first)
    alive = not restless["crash"] and not restless["hung"] and restless["rc"] == 0
    print(f"  liveness: {'alive to the end' if alive else 'NOT alive'}; largest gap between clock ticks "
          f"{last['max_gap_s']:.2f} s; stalls over {STALL_S:g} s: {len(restless['stalls'])}")
    print(f"  events played: {last['events']} ({', '.join(f'{k} {v}' for k, v in sorted(last['played'].items()))})")
    print(f"  sessions ended: {sum(last['sessions'].values())} ({', '.join(f'{k} {v}' for k, v in last['sessions'].items())})")  # noqa: E501
    print(f"  screens reached ({len(last['screens'])}): "
          + ", ".join(f"{k} {v}" for k, v in sorted(last["screens"].items(), key=lambda kv: -kv[1])))
    print("  RSS by sample (MiB):")
    print("    restless: " + ", ".join(f"{x['t']:.0f}s {x['rss']:.0f}" for x in s))
    if idle and idle["samples"]:
        print("    idle:     " + ", ".join(f"{x['t']:.0f}s {x['rss']:.0f}" for x in idle["samples"]))
        i0, i1 = idle["samples"][0], idle["samples"][-1]
        print(f"  baseline, the same app idle at home {args.baseline_minutes:g} min: RSS {i0['rss']:.1f} → "
              f"{i1['rss']:.1f} MiB ({i1['rss'] - i0['rss']:+.1f}); clock gap {i1['max_gap_s']:.2f} s")
    print(f"  restless citizen {args.minutes:g} min: RSS {first['rss']:.1f} → {last['rss']:.1f} MiB "
          f"({last['rss'] - first['rss']:+.1f}); peak {max(x['rss'] for x in s):.1f}"
          + (f"; beside idle's end: {last['rss'] - idle['samples'][-1]['rss']:+.1f} MiB"
             if idle and idle["samples"] else ""))
    print(f"  after its first minute ({at_1min['rss']:.1f} MiB at {at_1min['t']:.0f} s): "
          f"{last['rss'] - at_1min['rss']:+.1f} MiB over {(last['t'] - at_1min['t']) / 60:.1f} min "
          f"(warm-up flattens; a leak keeps the same slope)")
    half = s[len(s) // 2]
    print(f"  slope: first half {(half['rss'] - first['rss']) / max(half['t'] - first['t'], 1) * 60:+.1f} MiB/min, "
          f"second half {(last['rss'] - half['rss']) / max(last['t'] - half['t'], 1) * 60:+.1f} MiB/min")
    if not alive:
        raise SystemExit(1)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        mode, config, size, seed, seconds, diag, trace, clear = [*sys.argv[2:10], "0"][:8]
        child(mode, config, size, int(seed), float(seconds), diag == "1", trace == "1", clear == "1")
    else:
        main()

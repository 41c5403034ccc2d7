"""`kiosk sim card-reader | printer | scanner`: a simulated device in a process of its own.

Each opens a pseudo-terminal behind a stable path (the printer also a TCP port) and speaks the
device's protocol there, so a kiosk configured with `hardware.simulated = false` and that path as
its port talks to it exactly as to the hardware. The simulator is driven by lines on stdin (type
`help`); it reports on stdout, one line per event, with names masked as on a receipt.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from appliance.privacy import mask_name

Handler = Callable[[list[str]], str]


class SimShell:
    """Reads commands from stdin until `quit` or end of input; each answers with one line."""

    def __init__(self, device: str, commands: dict[str, tuple[str, Handler]]) -> None:
        self.device = device
        self.commands = commands
        self._out = threading.Lock()

    def say(self, line: str) -> None:
        with self._out:
            print(line, flush=True)

    def serve(self, ready: str) -> int:
        self.say(ready)
        for raw in sys.stdin:
            words = shlex.split(raw, comments=True)
            if not words:
                continue
            if words[0] in ("quit", "exit"):
                break
            if words[0] == "help":
                self.say("; ".join(f"{name} {usage}".strip() for name, (usage, _) in self.commands.items()))
                continue
            usage, handler = self.commands.get(words[0], ("", None))
            if handler is None:
                self.say(f"error: unknown command {words[0]!r} (type help)")
                continue
            try:
                self.say(handler(words[1:]))
            except (ValueError, IndexError) as exc:
                self.say(f"error: {exc} (usage: {words[0]} {usage})")
        return 0


def _plug_commands(sim) -> dict[str, tuple[str, Handler]]:
    """Pull the device's USB adapter out, and put it back, as every simulator allows."""
    return {"vanish": ("", lambda w: (sim.vanish(), "port gone")[1]),
            "back": ("", lambda w: (sim.come_back(), f"port back at {sim.port}")[1])}


def _on_off(words: list[str]) -> bool:
    if words[:1] not in (["on"], ["off"]):
        raise ValueError("say on or off")
    return words[0] == "on"


def _card_reader(args: argparse.Namespace) -> int:
    from drivers.card_reader_pty_sim import TEST_CITIZENS, PtyCardReaderSimulator

    sim = PtyCardReaderSimulator(args.port).start()

    def place(words: list[str]) -> str:
        number = int(words[0]) if words else 1
        if not 1 <= number <= len(TEST_CITIZENS):
            raise ValueError(f"test citizens are 1–{len(TEST_CITIZENS)}")
        sim.place(TEST_CITIZENS[number - 1])
        return f"card {number} placed ({mask_name(TEST_CITIZENS[number - 1].name)})"

    def garbage(words: list[str]) -> str:
        sim.send_garbage(bytes.fromhex("".join(words)))
        return "garbage sent"

    def silent(words: list[str]) -> str:
        sim.silent = _on_off(words)
        return f"silent {words[0]}"

    def cut(words: list[str]) -> str:
        sim.cut_next_answer = True
        return "the next answer will be cut off mid-frame"

    shell = SimShell("card reader", {
        "place": ("[1-3]", place), "remove": ("", lambda w: (sim.remove(), "card removed")[1]),
        "garbage": ("HEX", garbage), "silent": ("on|off", silent), "cut": ("", cut),
        **_plug_commands(sim),
    })
    try:
        return shell.serve(f"card reader simulator on {sim.port}; type help")
    finally:
        sim.stop()


PRINTER_STATES = {"near-end": "paper_near_end", "paper-out": "paper_end", "cover-open": "cover_open",
                  "cutter-error": "cutter_error", "silent": "silent", "garbled": "garbled"}


def _printer(args: argparse.Namespace) -> int:
    from drivers.printer_paper import PrintedReceipt
    from drivers.printer_pty_sim import PtyPrinterSimulator

    sim = PtyPrinterSimulator(args.port, args.out, args.width, tcp_port=args.tcp)
    shell = SimShell("printer", {})

    def announce(receipt: PrintedReceipt) -> None:
        shell.say(f"receipt {len(sim.receipts)}: {receipt.png} ({len(receipt.lines)} lines, "
                  f"{len(receipt.qr_codes)} QR, {receipt.raster_images} raster)")

    sim.paper.on_receipt = announce

    def set_state(words: list[str]) -> str:
        if not words or words[0] not in PRINTER_STATES:
            raise ValueError(f"one of {', '.join(PRINTER_STATES)}")
        sim.set_state(**{PRINTER_STATES[words[0]]: _on_off(words[1:])})
        return f"{words[0]} {words[1]}"

    def run_out(words: list[str]) -> str:
        sim.run_out_after_lines(int(words[0]))
        return f"paper runs out after {words[0]} lines"

    shell.commands.update({
        "set": ("STATE on|off", set_state), "run-out": ("LINES", run_out),
        "state": ("", lambda w: str(sim.state)),
        **_plug_commands(sim),
    })
    sim.start()
    where = f"{sim.port}" + (f" and 127.0.0.1:{sim.tcp_port}" if sim.tcp_port else "")
    try:
        return shell.serve(f"printer simulator ({args.width} mm) on {where}, receipts in {args.out}; type help")
    finally:
        sim.stop()


def _scanner(args: argparse.Namespace) -> int:
    from drivers.scanner_pty_sim import PtyScannerSimulator

    sim = PtyScannerSimulator(args.port, args.encoding).start()
    shell = SimShell("scanner", {
        "scan": ("TEXT", lambda w: (sim.scan(" ".join(w)), "scanned")[1]),
        "raw": ("HEX", lambda w: (sim.send_raw(bytes.fromhex("".join(w))), "sent")[1]),
        **_plug_commands(sim),
    })
    try:
        return shell.serve(f"scanner simulator on {sim.port}; type help")
    finally:
        sim.stop()


def add_sim_commands(commands: argparse._SubParsersAction) -> None:
    sim = commands.add_parser("sim", help="run a simulated device on a pseudo-terminal")
    devices = sim.add_subparsers(dest="device", required=True)
    reader = devices.add_parser("card-reader", help="resident-ID card reader with three test citizens")
    reader.add_argument("--port", type=Path, default=Path("/tmp/kiosk-sim/ttyIDCARD"), help="path of the port")
    reader.set_defaults(func=_card_reader)
    printer = devices.add_parser("printer", help="ESC/POS receipt printer that draws each receipt as a PNG")
    printer.add_argument("--port", type=Path, default=Path("/tmp/kiosk-sim/ttyPRINTER"))
    printer.add_argument("--tcp", type=int, default=None, help="also listen on this TCP port (e.g. 9100)")
    printer.add_argument("--out", type=Path, default=Path("/tmp/kiosk-sim/receipts"), help="where PNGs go")
    printer.add_argument("--width", type=int, choices=(58, 80), default=80, help="paper width in mm")
    printer.set_defaults(func=_printer)
    scanner = devices.add_parser("scanner", help="QR / barcode scanner in line mode")
    scanner.add_argument("--port", type=Path, default=Path("/tmp/kiosk-sim/ttySCANNER"))
    scanner.add_argument("--encoding", default="utf-8", choices=("utf-8", "gb18030"))
    scanner.set_defaults(func=_scanner)

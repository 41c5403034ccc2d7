"""`kiosk sim …` processes stand where the hardware goes: a kiosk with `hardware.simulated = false`
is pointed at their ports and cannot tell them from the devices."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.support import kiosk_config_data, write_toml

KIOSK = [sys.executable, "-m", "appliance.cli"]


class SimProcess:
    """A `kiosk sim DEVICE` child: lines to its stdin, its stdout lines in a queue."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([*KIOSK, "sim", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ready = self.expect("type help")

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, fragment: str, timeout: float = 15) -> str:
        while True:
            line = self.lines.get(timeout=timeout)
            if fragment in line:
                return line

    def send(self, command: str) -> str:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.lines.get(timeout=10)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


def _command(collector, device: str, name: str, request_id: str, args: dict | None = None) -> dict:
    payload = {"id": request_id, **({"args": args} if args else {})}
    collector.client.publish(f"kiosk/v1/{device}/cmd/{name}", json.dumps(payload), qos=1)
    collector.wait_for(lambda c: any(m.json()["id"] == request_id for m in c.on("/cmd-result")), 20)
    return next(m.json() for m in collector.on("/cmd-result") if m.json()["id"] == request_id)


def test_a_kiosk_on_real_drivers_talks_to_simulator_processes(tmp_path: Path, broker, collector) -> None:
    reader = SimProcess("card-reader", "--port", str(tmp_path / "ttyIDCARD"))
    printer = SimProcess("printer", "--port", str(tmp_path / "ttyPRINTER"), "--out", str(tmp_path / "receipts"),
                         "--width", "58")
    assert str(tmp_path / "ttyPRINTER") in printer.ready
    config = kiosk_config_data(tmp_path / "state", broker.port, hardware={
        "simulated": False, "card_reader": {"port": str(tmp_path / "ttyIDCARD")},
        "printer": {"port": str(tmp_path / "ttyPRINTER"), "paper_width_mm": 58, "poll_s": 0.5}})
    kiosk = subprocess.Popen([*KIOSK, "run", "--headless", "--config", str(write_toml(tmp_path / "k.toml", config))],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "GPIOZERO_PIN_FACTORY": "mock"})  # no Pi here: gpiozero's mock pins
    try:
        device = config["device"]["id"]
        collector.wait_for(lambda c: any(m.json()["status"] == "online" for m in c.on("/status")), 20)
        status = _command(collector, device, "status", "s-1")["result"]
        assert status["drivers"]["printer"] == {"state": "ok", "reason": "ok"}
        assert status["drivers"]["card_reader"] == {"state": "ok", "reason": "ok"}

        assert _command(collector, device, "print-test", "p-1")["ok"]
        announced = printer.expect("receipt 1:")
        assert "1 QR" in announced and Path(announced.split()[2]).exists()

        assert reader.send("place 1") == "card 1 placed (欧**娜)"
        collector.wait_for(lambda c: _command(c, device, "status", f"s-{len(c.messages)}")["result"]["counters"]
                           ["session_start"] == 1, 20)

        assert printer.send("set paper-out on") == "paper-out on"
        collector.wait_for(lambda c: any(e["payload"]["code"] == "printer_paper_end" for e in c.events("alert")), 20)
        failed = _command(collector, device, "print-test", "p-2")
        assert not failed["ok"] and "paper_end" in failed["error"]["message"]
    finally:
        kiosk.send_signal(signal.SIGTERM)
        _, err = kiosk.communicate(timeout=20)
        reader.close()
        printer.close()
    assert kiosk.returncode == 0, err
    assert "欧阳娜娜" not in err and "欧阳娜娜" not in printer.process.stderr.read()

"""Choosing the device's hardware from the config: the real drivers, or the same drivers talking to
simulators at the far end of pseudo-terminals (and gpiozero's mock pins for the LEDs)."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.config import ConfigError, KioskConfig
from drivers.card_reader import CardReader
from drivers.card_reader_pty_sim import PtyCardReaderSimulator
from drivers.card_reader_serial import SerialCardReader
from drivers.leds import StatusLeds, mock_pin_factory
from drivers.printer import Printer


@dataclass
class Hardware:
    card_reader: CardReader
    printer: Printer
    leds: StatusLeds
    card_reader_sim: PtyCardReaderSimulator | None = None  # set when simulated

    def close(self) -> None:
        self.card_reader.close()
        self.printer.close()
        self.leds.close()
        if self.card_reader_sim is not None:
            self.card_reader_sim.stop()


def build_hardware(config: KioskConfig) -> Hardware:
    leds = config.hardware.leds
    if not config.hardware.simulated:
        raise ConfigError(
            "hardware.simulated = false: the real printer driver is not part of this build yet; "
            "set hardware.simulated = true"
        )
    from drivers.printer_sim import SimulatedPrinter

    sim_dir = config.storage.dir / "sim"
    sim_dir.mkdir(exist_ok=True)
    card_reader_sim = PtyCardReaderSimulator(sim_dir / "ttyIDCARD").start()
    return Hardware(
        card_reader=SerialCardReader(str(card_reader_sim.port), config.hardware.card_reader.baud),
        printer=SimulatedPrinter(),
        leds=StatusLeds(leds.green, leds.amber, leds.red, leds.active_high, pin_factory=mock_pin_factory()),
        card_reader_sim=card_reader_sim,
    )

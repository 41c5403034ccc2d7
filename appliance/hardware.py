"""Choosing the device's hardware from the config: the simulators, or the real drivers."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.config import ConfigError, KioskConfig
from drivers.card_reader import CardReader
from drivers.leds import StatusLeds, mock_pin_factory
from drivers.printer import Printer


@dataclass
class Hardware:
    card_reader: CardReader
    printer: Printer
    leds: StatusLeds

    def close(self) -> None:
        self.card_reader.close()
        self.printer.close()
        self.leds.close()


def build_hardware(config: KioskConfig) -> Hardware:
    leds = config.hardware.leds
    if not config.hardware.simulated:
        raise ConfigError(
            "hardware.simulated = false: the real card reader and printer drivers are not part of this "
            "build yet; set hardware.simulated = true"
        )
    from drivers.card_reader_sim import SimulatedCardReader
    from drivers.printer_sim import SimulatedPrinter

    return Hardware(
        card_reader=SimulatedCardReader(),
        printer=SimulatedPrinter(),
        leds=StatusLeds(leds.green, leds.amber, leds.red, leds.active_high, pin_factory=mock_pin_factory()),
    )

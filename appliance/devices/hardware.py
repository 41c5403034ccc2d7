"""Choosing the device's hardware from the config: the real drivers on real ports, or the very same
drivers talking to simulators at the far end of pseudo-terminals (the printer's also over TCP when
so configured) and gpiozero's mock pins for the LEDs. A device the booth does not have is a null device
(`fitted` False, health `absent/not_fitted`), never None."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from appliance.config import KioskConfig, PrinterSection, SpeechSection
from drivers.card_reader import CardReader
from drivers.card_reader_pty_sim import PtyCardReaderSimulator
from drivers.card_reader_serial import SerialCardReader
from drivers.escpos_encoder import EncoderSettings, ReceiptEncoder
from drivers.leds import Leds, StatusLeds, mock_pin_factory
from drivers.printer import Printer
from drivers.printer_escpos import EscposPrinter
from drivers.printer_pty_sim import PtyPrinterSimulator
from drivers.scanner import NullScanner, Scanner, SerialLineScanner
from drivers.scanner_pty_sim import PtyScannerSimulator
from drivers.speech import EspeakSpeaker, NullSpeaker, Speaker, WavSpeaker
from drivers.touchscreen import InputDeviceTouchscreen, NullTouchscreen, Touchscreen

Device = CardReader | Printer | Leds | Scanner | Touchscreen | Speaker


@dataclass
class Hardware:
    card_reader: CardReader
    printer: Printer
    leds: Leds
    scanner: Scanner = field(default_factory=NullScanner)  # null: this booth has no scanner
    touchscreen: Touchscreen = field(default_factory=NullTouchscreen)  # null: no `hardware.touchscreen`
    speaker: Speaker = field(default_factory=NullSpeaker)  # null: speech off, or `speech.output = "none"`
    card_reader_sim: PtyCardReaderSimulator | None = None  # set when simulated
    printer_sim: PtyPrinterSimulator | None = None
    scanner_sim: PtyScannerSimulator | None = None

    def devices(self) -> dict[str, Device]:
        """Every device by the name the heartbeat knows it by, fitted or not."""
        return {"card_reader": self.card_reader, "printer": self.printer, "leds": self.leds,
                "scanner": self.scanner, "touchscreen": self.touchscreen}

    def fitted(self) -> dict[str, Device]:
        """The devices this booth has, by name: what its health and heartbeat report on (the speaker too,
        when the booth speaks: `speaker: absent` where it has no sound device to speak on)."""
        fitted = {name: device for name, device in self.devices().items() if device.fitted}
        if self.speaker.fitted:
            fitted["speaker"] = self.speaker
        return fitted

    def close(self) -> None:
        for device in self.devices().values():
            device.close()
        self.speaker.close()
        for sim in (self.card_reader_sim, self.printer_sim, self.scanner_sim):
            if sim is not None:
                sim.stop()


def build_printer(section: PrinterSection, url: str | None = None) -> EscposPrinter:
    encoder = ReceiptEncoder(EncoderSettings(section.paper_width_mm, section.chinese_font, section.native_qr))
    return EscposPrinter(url or section.url, section.baud, encoder, section.flow_control, section.poll_s)


def build_speaker(section: SpeechSection, storage: Path, simulated: bool) -> Speaker:
    """The booth's voice from `[speech]`: espeak-ng on the sound device (the default on real hardware),
    WAV files (the sound device's simulator; simulated hardware speaks only when told to), or none."""
    output = section.output or ("none" if simulated else "sound")
    if not section.enabled or output == "none":
        return NullSpeaker()
    if output == "files":
        return WavSpeaker(storage / "speech")
    return EspeakSpeaker(section.device)


def build_hardware(config: KioskConfig) -> Hardware:
    hw = config.hardware
    # a real input device even when simulated
    touchscreen = InputDeviceTouchscreen(hw.touchscreen) if hw.touchscreen else NullTouchscreen()
    speaker = build_speaker(config.speech, config.storage.dir, hw.simulated)
    if not hw.simulated:
        return Hardware(
            card_reader=SerialCardReader(hw.card_reader.port, hw.card_reader.baud),
            printer=build_printer(hw.printer),
            leds=StatusLeds(hw.leds.green, hw.leds.amber, hw.leds.red, hw.leds.active_high),
            scanner=SerialLineScanner(hw.scanner.port, hw.scanner.baud) if hw.scanner.enabled else NullScanner(),
            touchscreen=touchscreen,
            speaker=speaker,
        )
    sim_dir = config.storage.dir / "sim"
    sim_dir.mkdir(exist_ok=True)
    card_reader_sim = PtyCardReaderSimulator(sim_dir / "ttyIDCARD").start()
    over_tcp = hw.printer.connection == "tcp"
    printer_sim = PtyPrinterSimulator(sim_dir / "ttyPRINTER", sim_dir / "receipts", hw.printer.paper_width_mm,
                                      tcp_port=0 if over_tcp else None).start()
    scanner_sim = PtyScannerSimulator(sim_dir / "ttySCANNER").start() if hw.scanner.enabled else None
    printer_url = {"serial": str(printer_sim.port), "usb": f"lp://{printer_sim.port}",
                   "tcp": f"socket://127.0.0.1:{printer_sim.tcp_port}"}[hw.printer.connection]
    return Hardware(
        card_reader=SerialCardReader(str(card_reader_sim.port), hw.card_reader.baud),
        printer=build_printer(hw.printer, printer_url),
        leds=StatusLeds(hw.leds.green, hw.leds.amber, hw.leds.red, hw.leds.active_high,
                        pin_factory=mock_pin_factory()),
        scanner=SerialLineScanner(str(scanner_sim.port), hw.scanner.baud) if scanner_sim else NullScanner(),
        touchscreen=touchscreen,
        speaker=speaker,
        card_reader_sim=card_reader_sim,
        printer_sim=printer_sim,
        scanner_sim=scanner_sim,
    )

"""Voice guidance (语音播报): what the booth says aloud, made safe to say, in the citizen's language and pace.

The screens decide when and what (each screen's title and what to do next, a guide's key facts, a
receipt's number, the countdown); `VoiceGuide` turns that into one `Utterance` for the speaker
(`drivers/speech.py`) with the configured voice, speed and volume, and makes sure nothing personal is
said: an ID number or phone number that slipped into the text is masked as on a receipt
(`appliance/privacy.py`), and what is masked is not read out at all. Numbers of five digits or more
(the 12345 hotline, receipt numbers) are read digit by digit, as a person reads them to someone
writing them down.

`kiosk speak TEXT [--wav FILE]` says a text the way the booth would, or writes it to a WAV file.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from appliance.config import SpeechSection
from appliance.privacy import mask_id_number, mask_phone
from drivers.health import HealthState
from drivers.speech import NullSpeaker, Speaker, Utterance

CHINESE_DIGITS = dict(zip("0123456789", "零一二三四五六七八九", strict=True))
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
PHONE = re.compile(r"(?<![0-9])(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?![0-9])")
MASKED = re.compile(r"\w*\*[\w*]*")  # 张*三, 3703**********1234, 139****5678: never read out
LONG_NUMBER = re.compile(r"\d{5,}")
SPELL_GROUP = 4  # digits read in groups of four, a short pause between groups


@dataclass(frozen=True)
class Spell:
    """A code read out character by character (a receipt number), in groups of four."""

    code: str


Part = str | Spell


def speakable(text: str) -> str:
    """`text` with anything personal taken out: ID and phone numbers masked as on a receipt, and every
    masked word (name, number) left unsaid."""
    text = ID_NUMBER.sub(lambda m: mask_id_number(m[0]), text)
    text = PHONE.sub(lambda m: mask_phone(m[0].replace("-", "")), text)
    return MASKED.sub("", text)


def spelled(code: str, english: bool = False) -> str:
    """`code` character by character: Chinese digit words (零一二…) or English digits, letters as letters."""
    chars = [c for c in code.upper() if c.isalnum()]
    if not english:
        chars = [CHINESE_DIGITS.get(c, c) for c in chars]
    groups = [" ".join(chars[i:i + SPELL_GROUP]) for i in range(0, len(chars), SPELL_GROUP)]
    return ("， " if not english else ", ").join(groups)


def compose(parts: Sequence[Part], english: bool = False) -> str:
    """The parts as one text: sentences closed with a full stop, spelled codes spelled, long numbers in
    the text read digit by digit, nothing personal."""
    stop = ". " if english else "。"
    sentences = []
    for part in parts:
        if isinstance(part, Spell):
            said = spelled(speakable(part.code), english)
        else:
            said = LONG_NUMBER.sub(lambda m: f" {spelled(m[0], english)} ", speakable(part)).strip()
        if not said:
            continue
        sentences.append(said if said[-1] in "。！？.!?：:" else said + stop)
    return "".join(sentences).strip()


class VoiceGuide:
    """The booth's voice for the screens: says a screen's words without waiting for them, one at a time
    (a new one cuts the last), or nothing where speech is off or there is no speaker."""

    def __init__(self, section: SpeechSection, speaker: Speaker) -> None:
        self.section = section
        self.speaker = speaker

    @property
    def available(self) -> bool:
        """Whether the booth can speak now (the screens offer the speaker button only then)."""
        return (self.section.enabled and self.speaker.fitted
                and self.speaker.health().state not in (HealthState.ABSENT, HealthState.FAULT))

    def utterance(self, parts: Sequence[Part], tag: str = "", english: bool = False,
                  elder: bool = False) -> Utterance | None:
        text = compose(parts, english)
        if not text:
            return None
        section = self.section
        return Utterance(text, voice=section.english_voice if english else section.voice,
                         rate_wpm=section.elder_rate_wpm if elder else section.rate_wpm,
                         volume=section.volume, tag=tag)

    def say(self, parts: Sequence[Part], tag: str = "", english: bool = False, elder: bool = False) -> bool:
        """Start saying `parts` (cutting whatever is being said); False when nothing is said."""
        if not self.available:
            return False
        utterance = self.utterance(parts, tag, english, elder)
        if utterance is None:
            self.speaker.cut()
            return False
        self.speaker.say(utterance)
        return True

    def hush(self) -> None:
        """Stop speaking now (a new screen that says nothing, the citizen gone)."""
        self.speaker.cut()


# -- `kiosk speak` ----------------------------------------------------------------------------------------
def add_speak_command(commands: argparse._SubParsersAction) -> None:
    speak = commands.add_parser("speak", help="say a text as the booth would (or write it to a WAV file)")
    speak.add_argument("text", help="what to say (anything personal in it is masked and left unsaid)")
    speak.add_argument("--wav", type=Path, metavar="FILE", help="write a WAV file instead of playing it")
    speak.add_argument("--phonemes", action="store_true", help="print the phonemes espeak-ng would say")
    speak.add_argument("--spell", action="store_true", help="read TEXT character by character (a receipt number)")
    speak.add_argument("--english", action="store_true", help="the English voice")
    speak.add_argument("--elder", action="store_true", help="the slower pace of elder mode")
    speak.add_argument("--config", type=Path, help="take voice, speed, volume and sound device from this config")
    speak.set_defaults(func=_speak)


def _speak(args: argparse.Namespace) -> int:
    from appliance.config import load_config
    from appliance.errors import operator_error
    from drivers.speech import EspeakSpeaker, SpeechError, phonemes, render_wav

    section = load_config(args.config).speech if args.config else SpeechSection()
    guide = VoiceGuide(section, NullSpeaker())
    utterance = guide.utterance([Spell(args.text) if args.spell else args.text], tag="kiosk-speak",
                                english=args.english, elder=args.elder)
    if utterance is None:
        return operator_error("kiosk speak", "nothing to say (what was given is empty once masked)")
    try:
        if args.phonemes:
            print(phonemes(utterance.text, utterance.voice))
            return 0
        if args.wav:
            seconds = render_wav(utterance, args.wav)
            print(f"{args.wav}: {seconds:.2f} s, voice {utterance.voice}, {utterance.rate_wpm} wpm, "
                  f"volume {utterance.volume}")
            return 0
    except SpeechError as exc:
        return operator_error("kiosk speak", str(exc))
    speaker = EspeakSpeaker(section.device)
    try:
        if speaker.health().state is not HealthState.OK:
            return operator_error("kiosk speak", f"cannot play on {section.device}: {speaker.health().reason} "
                                                 "(--wav FILE writes a file instead)")
        speaker.say(utterance)
        _wait_until_said(speaker)
        if speaker.health().state is not HealthState.OK:
            return operator_error("kiosk speak", f"the sound device {section.device} did not play: "
                                                 f"{speaker.health().reason}")
    finally:
        speaker.close()
    return 0


def _wait_until_said(speaker: Speaker, timeout_s: float = 120) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while speaker.speaking() and time.monotonic() < deadline:
        time.sleep(0.05)

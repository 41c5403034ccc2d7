"""Speech (语音播报): the `Speaker` interface, espeak-ng behind it, and `NullSpeaker` for a booth without sound.

- `EspeakSpeaker` plays on the booth's sound device: `espeak-ng --stdout | aplay -D DEVICE`, one utterance
  at a time. Without an ALSA playback device it reports `absent/no_sound_device` and says nothing (a USB
  speaker plugged in later is used from its next utterance on).
- `WavSpeaker` is the sound device's simulator: the same espeak-ng writes each utterance to a numbered WAV
  file, which then "plays" for its own length in real time, so a cut falls where it would on a speaker;
  `speech.jsonl` beside the files says what started, played, finished or was cut (simulation, tests).
- `NullSpeaker`: no sound here (`fitted` False, `absent/not_fitted`); saying something does nothing.

A speaker holds a queue of one: `say` replaces what waits and cuts what is playing (its processes are
killed), on the speaker's own thread, so the caller (Kivy's thread) never waits, and a new screen never
queues behind the last one's words. Better engines replace espeak-ng by implementing `Speaker`.

espeak-ng 1.51 (Debian 12, Raspberry Pi OS Bookworm) reads Chinese characters with its `cmn` voice through
their pinyin spelled in English ("hao two", espeak-ng issues #1028, #1236); `cmn-latn-pinyin`, the same
Mandarin with Latin read as pinyin, speaks them with Mandarin syllables and tones. It is the default voice.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import subprocess
import threading
import time
import wave
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from drivers.health import NOT_FITTED, OK, Health, HealthState

log = logging.getLogger("kiosk.speech")

ESPEAK = "espeak-ng"
APLAY = "aplay"  # alsa-utils
MANDARIN = "cmn-latn-pinyin"
ASOUND = Path("/proc/asound")
SOUND_NODES = Path("/dev/snd")
NO_ENGINE = Health(HealthState.ABSENT, "no_speech_engine")
NO_SOUND = Health(HealthState.ABSENT, "no_sound_device")
DENIED = Health(HealthState.ABSENT, "sound_device_denied")
FAILED = Health(HealthState.FAULT, "speech_failed")
KEEP_FILES = 200  # WavSpeaker keeps this many recent WAV files
JOURNAL_BYTES = 1 << 20  # and its journal up to this size (then one older generation)


@dataclass(frozen=True)
class Utterance:
    """What to say and how. `tag` names it (the screen it is for) in logs and the journal."""

    text: str
    voice: str = MANDARIN
    rate_wpm: int = 160
    volume: int = 70  # 0–100: espeak-ng's amplitude × 2 (50 is its normal loudness)
    tag: str = ""

    def espeak_options(self) -> list[str]:
        return ["-v", self.voice, "-s", str(self.rate_wpm), "-a", str(self.volume * 2), "-b", "1"]


class Speaker(ABC):
    """The booth's voice.

    An implementation must override `say` (start saying `utterance` without waiting for it: what was
    waiting is dropped and what is being said is cut), `cut` (stop at once, nothing left waiting),
    `health` (at once, without blocking) and `close` (cut and free what it holds). It may override
    `speaking` (whether something is being said now). `fitted` is False only for `NullSpeaker`."""

    fitted: bool = True

    @abstractmethod
    def say(self, utterance: Utterance) -> None: ...

    @abstractmethod
    def cut(self) -> None: ...

    @abstractmethod
    def health(self) -> Health: ...

    @abstractmethod
    def close(self) -> None: ...

    def speaking(self) -> bool:
        return False


class NullSpeaker(Speaker):
    """A booth without sound: reports `absent/not_fitted` and says nothing."""

    fitted = False

    def say(self, utterance: Utterance) -> None:
        pass

    def cut(self) -> None:
        pass

    def health(self) -> Health:
        return NOT_FITTED

    def close(self) -> None:
        pass


class _Turn:
    """One utterance being said: its processes (killed by a cut) and whether it was cut."""

    def __init__(self, utterance: Utterance) -> None:
        self.utterance = utterance
        self.stopped = threading.Event()
        self.processes: list[subprocess.Popen] = []


class QueueOfOne(Speaker):
    """A speaker thread that says one utterance at a time, with room for one more: the latest `say` wins.
    Subclasses implement `_speak(turn)`, which blocks until the utterance is said or `turn.stopped` is set,
    running its processes through `_start`, so that a cut can kill them."""

    def __init__(self, engine: str = ESPEAK) -> None:
        self.engine = shutil.which(engine)
        self._health = OK if self.engine else NO_ENGINE
        self._lock = threading.Condition()
        self._waiting: Utterance | None = None
        self._turn: _Turn | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="speech", daemon=True)
        self._thread.start()

    def say(self, utterance: Utterance) -> None:
        with self._lock:
            if self._closed:
                return
            self._waiting = utterance
            self._stop_turn()
            self._lock.notify()

    def cut(self) -> None:
        with self._lock:
            self._waiting = None
            self._stop_turn()

    def speaking(self) -> bool:
        with self._lock:
            return self._turn is not None or self._waiting is not None

    def health(self) -> Health:
        return self._health

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._waiting = None
            self._stop_turn()
            self._lock.notify()
        self._thread.join(timeout=5)

    def _stop_turn(self) -> None:
        """With the lock held: the utterance being said stops now (its processes are killed)."""
        turn = self._turn
        if turn is None:
            return
        turn.stopped.set()
        for process in turn.processes:
            with contextlib.suppress(ProcessLookupError):
                process.kill()

    def _start(self, turn: _Turn, argv: list[str], **popen) -> subprocess.Popen | None:
        """Start one of the turn's processes, unless the turn was cut meanwhile (then None)."""
        with self._lock:
            if turn.stopped.is_set():
                return None
            process = subprocess.Popen(argv, **popen)
            turn.processes.append(process)
            return process

    def _loop(self) -> None:
        while True:
            with self._lock:
                while self._waiting is None and not self._closed:
                    self._lock.wait()
                if self._closed:
                    return
                turn = self._turn = _Turn(self._waiting)
                self._waiting = None
            try:
                if self.engine is None:
                    self._health = NO_ENGINE
                else:
                    self._speak(turn)
            except Exception:  # a failed utterance never stops the next one
                log.exception("speaking %r failed", turn.utterance.tag)
                self._health = FAILED
            finally:
                for process in turn.processes:
                    with contextlib.suppress(Exception):
                        process.kill()
                    process.wait()
                with self._lock:
                    self._turn = None

    @abstractmethod
    def _speak(self, turn: _Turn) -> None: ...


class EspeakSpeaker(QueueOfOne):
    """espeak-ng on the sound device: `espeak-ng --stdout | aplay -D device` for each utterance."""

    def __init__(self, device: str = "default", engine: str = ESPEAK, player: str = APLAY,
                 asound: Path = ASOUND, dev: Path = SOUND_NODES) -> None:
        self.device = device
        self.player = shutil.which(player)
        self._asound = asound
        self._dev = dev
        super().__init__(engine)
        if self.player is None:
            self._health = NO_ENGINE
        elif self.sound_device() != OK:
            self._health = self.sound_device()

    def sound_device(self) -> Health:
        """Whether ALSA has a playback device for `device` that this process may open (the `null` device
        always plays): ok, `absent/no_sound_device`, or `absent/sound_device_denied` (not in the `audio`
        group, or a service sandbox without `DeviceAllow=char-alsa`)."""
        if self.device == "null":
            return OK
        card = _card_of(self.device)
        if card is not None and not card.isdigit():
            named = self._asound / card
            card = named.resolve().name.removeprefix("card") if named.exists() else None
            if card is None:
                return NO_SOUND
        pattern = f"card{card}/pcm*p" if card is not None else "card*/pcm*p"
        playback = sorted(self._asound.glob(pattern))
        if not playback:
            return NO_SOUND
        nodes = [self._dev / f"pcmC{p.parent.name.removeprefix('card')}D{p.name[3:-1]}p" for p in playback]
        if any(node.exists() for node in nodes) and not any(os.access(node, os.R_OK | os.W_OK) for node in nodes):
            return DENIED
        return OK

    def health(self) -> Health:
        if self._health in (NO_SOUND, DENIED):
            return self.sound_device()  # plugged in (or let in) since: the next utterance will tell
        return self._health

    def _speak(self, turn: _Turn) -> None:
        if self.player is None:
            self._health = NO_ENGINE
            return
        present = self.sound_device()
        if present != OK:
            self._health = present
            return
        utterance = turn.utterance
        espeak = self._start(turn, [self.engine, *utterance.espeak_options(), "--stdout", "--stdin"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        if espeak is None:
            return
        player = self._start(turn, [self.player, "-q", "-D", self.device], stdin=espeak.stdout,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        espeak.stdout.close()  # aplay holds the pipe now
        try:
            espeak.stdin.write(utterance.text.encode("utf-8"))
        except BrokenPipeError:
            pass  # cut already
        finally:
            with contextlib.suppress(BrokenPipeError):
                espeak.stdin.close()
        if player is None:
            return
        problem = player.stderr.read().decode(errors="replace").strip()
        player.wait()
        espeak.wait()
        if turn.stopped.is_set():
            log.debug("speech %r cut", utterance.tag)
        elif player.returncode != 0:
            log.warning("the sound device %s did not play (%s)", self.device, problem[-200:] or player.returncode)
            self._health = (DENIED if "ermi" in problem else NO_SOUND) if "open" in problem else FAILED
        elif espeak.returncode != 0:
            self._health = FAILED
        else:
            self._health = OK


class WavSpeaker(QueueOfOne):
    """The sound device's simulator: each utterance becomes `NNNN-tag.wav` in `directory` (the real
    espeak-ng renders it) and then plays for the WAV's length; `speech.jsonl` records each one's start,
    its playing (with its length), and its finish or cut. The newest `KEEP_FILES` WAVs are kept."""

    JOURNAL = "speech.jsonl"

    def __init__(self, directory: Path, engine: str = ESPEAK) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        existing = sorted(self.directory.glob("*.wav"))
        self._next = max((int(p.name[:6]) for p in existing if p.name[:6].isdigit()), default=0) + 1
        super().__init__(engine)

    def _speak(self, turn: _Turn) -> None:
        utterance = turn.utterance
        number, self._next = self._next, self._next + 1
        path = self.directory / f"{number:06d}-{_safe(utterance.tag)}.wav"
        began = time.monotonic()
        self._note("started", number, utterance, wav=path.name)
        render = self._start(turn, [self.engine, *utterance.espeak_options(), "-w", str(path), "--stdin"],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if render is not None:
            _, problem = render.communicate(utterance.text.encode("utf-8"))
            if not turn.stopped.is_set() and render.returncode != 0:
                self._health = FAILED
                self._note("failed", number, utterance, error=problem.decode(errors="replace")[-200:])
                return
        if render is None or turn.stopped.is_set():
            self._note("cut", number, utterance, after_s=round(time.monotonic() - began, 3), during="render")
            return
        self._health = OK
        length = wav_seconds(path)
        self._note("playing", number, utterance, length_s=length)
        if turn.stopped.wait(max(0.0, length - (time.monotonic() - began))):
            self._note("cut", number, utterance, after_s=round(time.monotonic() - began, 3), length_s=length)
        else:
            self._note("finished", number, utterance, length_s=length)
        self._prune()

    def _note(self, event: str, number: int, utterance: Utterance, **details: object) -> None:
        line = {"event": event, "n": number, "tag": utterance.tag, "at": round(time.time(), 3),
                "voice": utterance.voice, "rate_wpm": utterance.rate_wpm, "volume": utterance.volume,
                "text": utterance.text, **details}
        journal = self.directory / self.JOURNAL
        if journal.exists() and journal.stat().st_size > JOURNAL_BYTES:
            journal.replace(journal.with_suffix(".jsonl.1"))
        with journal.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")

    def _prune(self) -> None:
        for old in sorted(self.directory.glob("*.wav"))[:-KEEP_FILES]:
            old.unlink(missing_ok=True)

    def journal(self) -> list[dict]:
        """What the journal holds, oldest first."""
        path = self.directory / self.JOURNAL
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


# -- one-off use: `kiosk speak`, tests ------------------------------------------------------------------
class SpeechError(RuntimeError):
    pass


def render_wav(utterance: Utterance, path: Path, engine: str = ESPEAK, timeout_s: float = 60) -> float:
    """Write `utterance` to the WAV file `path` and return its length in seconds."""
    found = shutil.which(engine)
    if found is None:
        raise SpeechError(f"{engine} is not installed (Debian package espeak-ng)")
    done = subprocess.run([found, *utterance.espeak_options(), "-w", str(path), "--stdin"],
                          input=utterance.text.encode("utf-8"), capture_output=True, timeout=timeout_s)
    if done.returncode != 0 or not path.exists():
        raise SpeechError(f"{engine} failed: {done.stderr.decode(errors='replace').strip()[-300:]}")
    return wav_seconds(path)


def phonemes(text: str, voice: str = MANDARIN, engine: str = ESPEAK) -> str:
    """The phonemes espeak-ng would say for `text` (its `-x` mnemonics: tones as digits, `(en)` where it
    switches to English)."""
    found = shutil.which(engine)
    if found is None:
        raise SpeechError(f"{engine} is not installed (Debian package espeak-ng)")
    done = subprocess.run([found, "-q", "-x", "-v", voice, "-b", "1", "--stdin"], input=text.encode("utf-8"),
                          capture_output=True, timeout=30)
    if done.returncode != 0:
        raise SpeechError(f"{engine} failed: {done.stderr.decode(errors='replace').strip()[-300:]}")
    return done.stdout.decode("utf-8", errors="replace").strip()


def wav_seconds(path: Path) -> float:
    try:
        with wave.open(str(path), "rb") as sound:
            return sound.getnframes() / float(sound.getframerate() or 1)
    except (OSError, EOFError, wave.Error):
        return 0.0


def _card_of(device: str) -> str | None:
    """The ALSA card an explicit device name names (`hw:1,0`, `plughw:Headphones`, `…:CARD=Headphones,…`)."""
    named = re.search(r"CARD=([^,]+)", device)
    if named:
        return named[1]
    plain = re.match(r"(?:plug)?hw:([^,]+)", device)
    return plain[1] if plain else None


def _safe(tag: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", tag)[:40] or "speech"

"""Voice guidance without a screen: the real espeak-ng renders Mandarin (not English letter names), `kiosk
speak` writes a WAV of plausible length that is not silence, the speaker's queue of one cuts the running
espeak-ng, nothing personal is said, and a booth without a sound device says `speaker: absent`."""

from __future__ import annotations

import array
import math
import os
import re
import shutil
import subprocess
import sys
import time
import wave
from pathlib import Path

import pytest

from appliance.config import ConfigError, parse_config
from appliance.devices.hardware import build_hardware
from appliance.services.voice import Spell, VoiceGuide, compose, speakable, spelled
from drivers.health import NOT_FITTED, OK, Health, HealthState
from drivers.speech import EspeakSpeaker, NullSpeaker, Utterance, WavSpeaker, phonemes, wav_seconds
from tests.support import kiosk_config_data, wait_until

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (Debian package)")

KIOSK = [sys.executable, "-m", "appliance.cli"]
TONE = re.compile(r"(?<!\d)(?:55|35|214|51|21)(?!\d)")  # espeak-ng's pitch contours of Mandarin's tones
RECEIPT = "2611230123400073"


def kiosk(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*KIOSK, *args], capture_output=True, text=True, timeout=60, **kwargs)


def samples(path: Path) -> array.array:
    with wave.open(str(path), "rb") as sound:
        assert sound.getsampwidth() == 2 and sound.getnchannels() == 1
        frames = array.array("h", sound.readframes(sound.getnframes()))
    if sys.byteorder == "big":
        frames.byteswap()
    return frames


def rms(frames: array.array) -> float:
    return math.sqrt(sum(x * x for x in frames) / max(1, len(frames)))


def syllables(text: str) -> int:
    """Chinese characters and digits: one syllable each."""
    return sum(1 for c in text if "\u4e00" <= c <= "\u9fff" or c.isdigit())


# -- what espeak-ng says ----------------------------------------------------------------------------------
def test_kiosk_speak_writes_a_wav_of_plausible_length_that_is_not_silence(tmp_path: Path) -> None:
    text = "请将居民身份证平放在下方读卡区，不要移动，直到听到提示。"
    out = tmp_path / "identify.wav"
    done = kiosk("speak", text, "--wav", str(out))
    assert done.returncode == 0, done.stderr
    assert "cmn-latn-pinyin" in done.stdout
    seconds = wav_seconds(out)
    count = syllables(text)  # 26
    assert 0.12 * count < seconds < 0.6 * count, f"{seconds:.2f} s for {count} syllables"
    frames = samples(out)
    assert rms(frames) > 1000, "speech, not silence (16-bit samples)"
    assert max(abs(x) for x in frames) < 32767, "not clipped at the default volume"
    # elder mode speaks the same words more slowly
    slow = tmp_path / "elder.wav"
    assert kiosk("speak", text, "--wav", str(slow), "--elder").returncode == 0
    assert wav_seconds(slow) > seconds * 1.1


def test_the_booth_voice_speaks_mandarin_syllables_not_english_letter_names() -> None:
    said = kiosk("speak", "你好", "--phonemes")
    assert said.returncode == 0, said.stderr
    assert "(en)" not in said.stdout, "no switch to English"
    assert "n'i35" in said.stdout and "X'Au214" in said.stdout, said.stdout  # nǐ hǎo: rising, dipping tones
    assert len(TONE.findall(said.stdout)) == 2
    # Debian's plain `cmn` reads the characters' pinyin in English ("hao three"): why it is not the default
    plain = phonemes("你好", voice="cmn")
    assert "(en)" in plain and "Tr'i:" in plain, plain
    # and the letters n-i-h-a-o would be English letter names, which the booth's voice never produces
    assert "'En" in phonemes("n i h a o", voice="en")


def test_a_receipt_number_is_read_digit_by_digit_in_groups_of_four() -> None:
    assert spelled(RECEIPT) == "二 六 一 一， 二 三 零 一， 二 三 四 零， 零 零 七 三"
    assert spelled("2611 2301", english=True) == "2 6 1 1, 2 3 0 1"
    said = kiosk("speak", RECEIPT, "--spell", "--phonemes").stdout
    assert len(TONE.findall(said)) == 16, said  # one syllable per digit, not "两千六百…"
    assert compose(["热线 12345"]).count(" ") >= 4, "a hotline is read digit by digit too"
    assert compose(["请在 15 秒内操作"]) == "请在 15 秒内操作。", "short numbers stay numbers"


def test_nothing_personal_is_said() -> None:
    """What the screens pass is already masked; an ID or phone number that slipped through is masked here,
    and masked words are not read out at all."""
    text = "申请人 370202199001011234，电话 13912345678，座机 0532-88886666，已识别：欧**娜 3702**********1234"
    said = speakable(text)
    for secret in ("199001011234", "1234", "13912345678", "5678", "88886666", "6666", "欧**娜", "**"):
        assert secret not in said, (secret, said)
    assert "申请人" in said and "电话" in said
    # a code that is an ID number is not spelled out either
    assert "1990" not in compose([Spell("370202199001011234")])
    assert kiosk("speak", "3702**********1234").returncode == 2, "nothing left to say once masked"


# -- the speaker: a queue of one that never blocks --------------------------------------------------------
LONG = "请将居民身份证平放在下方读卡区，不要移动，直到听到提示。" * 4


def test_a_new_utterance_cuts_the_one_playing_and_say_never_waits(tmp_path: Path) -> None:
    speaker = WavSpeaker(tmp_path / "speech")
    try:
        speaker.say(Utterance(LONG, tag="first"))
        wait_until(lambda: any(e["event"] == "playing" for e in speaker.journal()), timeout=5)
        before = time.monotonic()
        speaker.say(Utterance("已受理。", tag="second"))
        assert time.monotonic() - before < 1, "say hands the words over; it does not wait for the first to end"
        assert speaker.speaking()
        wait_until(lambda: any(e["event"] == "finished" for e in speaker.journal()), timeout=15)
        events = [(e["event"], e["tag"]) for e in speaker.journal()]
        assert events == [("started", "first"), ("playing", "first"), ("cut", "first"),
                          ("started", "second"), ("playing", "second"), ("finished", "second")]
        cut = speaker.journal()[2]
        assert cut["after_s"] < cut["length_s"] / 2, "cut early, not played out"
        assert len(list((tmp_path / "speech").glob("*.wav"))) == 2
        speaker.say(Utterance(LONG, tag="third"))
        wait_until(lambda: speaker.journal()[-1]["tag"] == "third", timeout=5)
        speaker.cut()
        wait_until(lambda: speaker.journal()[-1]["event"] == "cut", timeout=5)
        assert not speaker.speaking()
    finally:
        speaker.close()


def espeak_children() -> list[int]:
    """The espeak-ng processes this test process started (and that have not exited)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, rest = text.split("(", 1)[1].rsplit(")", 1)
        state, parent = rest.split()[:2]
        if name == "espeak-ng" and int(parent) == os.getpid() and state != "Z":
            found.append(int(stat.parent.name))
    return found


def test_cutting_kills_the_running_espeak_ng(tmp_path: Path) -> None:
    """On the sound device (ALSA's null device here: espeak-ng | aplay, as on a booth) a cut kills both
    processes at once instead of letting them run on."""
    speaker = EspeakSpeaker(device="null")
    try:
        assert speaker.health() == OK
        speaker.say(Utterance(LONG * 50, tag="long"))  # some 6 s of work for espeak-ng if left alone
        running = wait_until(espeak_children, timeout=5, interval=0.01)
        speaker.say(Utterance("好", tag="short"))
        wait_until(lambda: not set(running) & set(espeak_children()), timeout=1, interval=0.01)
        wait_until(lambda: not speaker.speaking(), timeout=10)
        assert speaker.health() == OK
    finally:
        speaker.close()
    assert not espeak_children()


def test_a_sound_device_that_is_not_there_is_absent_and_nothing_is_played(tmp_path: Path) -> None:
    speaker = EspeakSpeaker(device="plughw:CARD=NoSuchCard", asound=tmp_path / "asound")
    try:
        assert speaker.health() == Health(HealthState.ABSENT, "no_sound_device")
        guide = VoiceGuide(parse_config(kiosk_config_data(tmp_path, 1883)).speech, speaker)
        assert guide.available is False
        assert guide.say(["你好"]) is False and not speaker.speaking()
        # a USB speaker plugged in later (its card appears) is used again
        (tmp_path / "asound" / "card1").mkdir(parents=True)
        (tmp_path / "asound" / "card1" / "pcm0p").mkdir()
        (tmp_path / "asound" / "NoSuchCard").symlink_to("card1")
        assert speaker.health() == OK
    finally:
        speaker.close()


def test_a_null_speaker_is_absent_not_fitted_and_says_nothing() -> None:
    speaker = NullSpeaker()
    assert speaker.fitted is False and speaker.health() == NOT_FITTED
    speaker.say(Utterance("你好"))
    speaker.cut()
    assert not speaker.speaking()
    speaker.close()


# -- config and hardware -----------------------------------------------------------------------------------
def config(tmp_path: Path, **speech):
    return parse_config(kiosk_config_data(tmp_path / "state", 1883, speech=speech))


@pytest.mark.parametrize(("speech", "named"), [
    ({"volume": 150}, "speech.volume = 150"),
    ({"output": "speakers"}, "speech.output = 'speakers'"),
    ({"voice": "cmn; rm -rf /"}, "speech.voice"),
    ({"device": "hw:0 0"}, "speech.device"),
    ({"rate_wpm": 20}, "speech.rate_wpm = 20"),
    ({"loudness": 3}, "speech.loudness is not a known setting"),
])
def test_a_bad_speech_setting_is_named(tmp_path: Path, speech: dict, named: str) -> None:
    with pytest.raises(ConfigError) as refused:
        config(tmp_path, **speech)
    assert named in str(refused.value), str(refused.value)


@pytest.mark.parametrize(("speech", "kind", "reported"), [
    ({}, NullSpeaker, None),  # simulated hardware speaks only when told where
    ({"output": "none"}, NullSpeaker, None),
    ({"output": "files", "enabled": False}, NullSpeaker, None),
    ({"output": "files"}, WavSpeaker, OK),
    ({"output": "sound", "device": "plughw:CARD=NoSuchCard"}, EspeakSpeaker,
     Health(HealthState.ABSENT, "no_sound_device")),
])
def test_the_speaker_is_chosen_from_the_config(tmp_path: Path, speech: dict, kind: type, reported) -> None:
    made = config(tmp_path, **speech)
    made.storage.dir.mkdir(parents=True)
    hardware = build_hardware(made)
    try:
        assert type(hardware.speaker) is kind
        assert hardware.fitted().get("speaker") is (None if reported is None else hardware.speaker)
        if reported is not None:
            assert hardware.speaker.health() == reported
    finally:
        hardware.close()


def test_kiosk_status_says_speaker_absent_on_a_booth_without_a_sound_device(make_kiosk, tmp_path: Path) -> None:
    from tests.support import free_port, write_toml

    port = free_port()
    speech = {"output": "sound", "device": "plughw:CARD=NoSuchCard"}
    booth = make_kiosk(port, speech=speech)
    assert booth.health_snapshot()["drivers"]["speaker"] == {"state": "absent", "reason": "no_sound_device"}
    assert booth.can_speak() is False and booth.speak(["你好"]) is False
    booth.heartbeat.write_status()
    config_file = write_toml(tmp_path / "kiosk.toml", kiosk_config_data(tmp_path / "state", port, speech=speech))
    shown = kiosk("status", "--config", str(config_file))
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "  speaker: absent (no_sound_device)" in shown.stdout.splitlines(), shown.stdout


def test_a_booth_that_cannot_speak_still_serves_amber_not_red() -> None:
    from appliance.monitor.health import BoothHealth
    from drivers.leds import LedPattern

    def pattern(**drivers: Health) -> LedPattern:
        ok = {"card_reader": Health(HealthState.OK), "printer": Health(HealthState.OK)}
        return BoothHealth(drivers={**ok, **drivers}, online=True, held_for_tls=0, backlog_s=0, maintenance=False,
                           in_session=False).led_pattern()

    assert pattern() is LedPattern.READY
    assert pattern(speaker=Health(HealthState.OK)) is LedPattern.READY
    assert pattern(speaker=Health(HealthState.ABSENT, "no_sound_device")) is LedPattern.DEGRADED
    assert pattern(speaker=Health(HealthState.FAULT, "player_failed")) is LedPattern.DEGRADED
    # … while a device a citizen's task needs is out of service: red
    assert pattern(printer=Health(HealthState.ABSENT, "port_missing")) is LedPattern.FAULT
    assert pattern(speaker=Health(HealthState.ABSENT), card_reader=Health(HealthState.FAULT)) is LedPattern.FAULT

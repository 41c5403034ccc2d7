"""Receipt numbers a person can use (受理编号): 16 digits, read out on the phone, keyed in on a digit pad.

    YYMMDD BBBBB SSSS C      e.g. 2611 2301 2340 0073 (printed and shown in groups of four)

- `YYMMDD`: the day the booth filed it, by its own clock (a Pi without NTP may be off: the number stays
  unique all the same, because each day's sequence continues wherever the clock goes);
- `BBBBB`: the booth's code, given to it at provisioning (`[device] booth_code`, 00001–89999: central's
  office keeps the list). A booth without one makes one up from its device id in 90000–99999, which may
  clash with another's: central flags a code two booths use (an alert on the later one);
- `SSSS`: the booth's sequence of that day, 0001–9999, kept in its state database and taken in the same
  transaction that files the event (appliance/state/receipt_sequence.py);
- `C`: a Damm check digit over the fifteen before it. Damm's quasigroup catches every single wrong digit
  and every swap of two neighbouring digits (Luhn misses 09↔90), so a typo is caught at the booth before
  anything is asked of central.

Numbers are made on the booth while offline and are unique across the fleet as long as booth codes are.
Both sides import this module: the booth makes and checks numbers, central checks them again and derives
the keyed digest of a citizen's ID number with which "place your ID card again" finds their own cases.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

LENGTH = 16
NUMBER = re.compile(r"[0-9]{16}")  # the form alone (use fullmatch); `valid` checks the check digit too
BOOTH_CODE = re.compile(r"(?!00000)[0-8][0-9]{4}")  # a provisioned code (use fullmatch)
MADE_UP_FROM = 90_000  # codes a booth without a provisioned one makes up from its device id: 90000–99999
MAX_SEQUENCE = 9_999  # filings one booth can number in one day
HOLDER_DIGEST = re.compile(r"[0-9a-f]{64}")  # a keyed digest of an ID number (use fullmatch)

# The Damm algorithm's table: a totally anti-symmetric quasigroup of order 10 (Damm 2004), the one
# usually printed. Row = interim digit, column = next digit.
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


class NumbersUsedUp(Exception):
    """The booth has numbered `MAX_SEQUENCE` filings today: the next one waits for tomorrow."""


def check_digit(digits: str) -> str:
    """The Damm check digit of a string of digits."""
    interim = 0
    for digit in digits:
        interim = _DAMM[interim][ord(digit) - 48]
    return chr(48 + interim)


def valid(number: str) -> bool:
    """16 digits whose last is the Damm check digit of the others."""
    return NUMBER.fullmatch(number) is not None and check_digit(number) == "0"


def make(booth_code: str, day: date, sequence: int) -> str:
    """The number of a booth's `sequence`-th filing of `day`."""
    if not (re.fullmatch(r"[0-9]{5}", booth_code) and 1 <= sequence <= MAX_SEQUENCE):
        raise ValueError(f"no receipt number for booth {booth_code!r}, sequence {sequence!r}")
    body = f"{day:%y%m%d}{booth_code}{sequence:04d}"
    return body + check_digit(body)


def booth_of(number: str) -> str:
    """The booth code a number carries."""
    return number[6:11]


def normalise(text: str) -> str:
    """What a citizen keyed in or a scanner read, without the spaces and dashes it is printed with."""
    return re.sub(r"[\s\-]", "", text)


def grouped(number: str) -> str:
    """Groups of four, as printed and shown: 2611 2301 2340 0073."""
    return " ".join(number[i:i + 4] for i in range(0, len(number), 4))


def made_up_code(device_id: str) -> str:
    """The booth code of a booth provisioned without one: 90000–99999, from its device id."""
    value = int.from_bytes(hashlib.sha256(device_id.encode()).digest()[:4], "big")
    return str(MADE_UP_FROM + value % 10_000)


def holder_digest(key: bytes, id_number: str) -> str:
    """The keyed digest of a resident ID number (HMAC-SHA256, hex): what a booth sends central to find a
    citizen's own cases, and what central keeps beside each case to find them. Without the key, a digest
    cannot be tried against the (few) possible ID numbers."""
    return hmac.new(key, id_number.strip().upper().encode(), hashlib.sha256).hexdigest()

"""Masking of personal data for screens, receipts and central's pages (design.md §6): 张*三,
3703**********1234, 138****5678."""

from __future__ import annotations


def mask_name(name: str) -> str:
    """Keep the family name and, for names of three or more characters, the last character."""
    name = name.strip()
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_id_number(number: str) -> str:
    """Keep the first four (province and city) and the last four characters."""
    number = number.strip()
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_phone(phone: str) -> str:
    """138****5678: enough for the citizen to recognise their number, not enough for a passer-by (a
    number too short to be a phone is starred whole)."""
    if len(phone) < 7:
        return "*" * len(phone)
    head, tail = (3, 4) if len(phone) >= 10 else (2, 2)
    return phone[:head] + "*" * (len(phone) - head - tail) + phone[-tail:]

"""Hardware drivers: one module per device kind plus a simulator for each.

This package knows nothing of the rest of the product; the core uses it only through the small
interfaces in `card_reader`, `printer` and `leds`, and reads each device's `Health`.
"""

"""Hardware drivers: one module per device kind plus a simulator for each.

This package knows nothing of the rest of the product; the core uses it only through the small
interfaces in `card_reader`, `printer`, `scanner`, `leds` and `touchscreen` (each with a null device
for a booth without one), and reads each device's `Health`. Serial devices keep their port's thread
(`serial_device.PortThread`) apart from their protocol.
"""

"""The booth's devices chosen from the config (real drivers, or the same drivers against simulators)
and `kiosk sim`, which runs a simulated device on its own."""

"""How the booth knows and tells how it is: the health coordinator and its listeners (LEDs, alerts,
screens), heartbeat, usage ledger, system readings, the status file, systemd's watchdog and the ticker
that drives the periodic jobs."""

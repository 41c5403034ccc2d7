"""`./dev run`: the whole product on one machine, wired together, until Ctrl-C.

It starts, in this order, and each as its own process with its own command:

1. **a broker**: Debian's `mosquitto` with the production config (`central/mosquitto/kiosk.conf` and its
   ACL: TLS only, a client certificate per booth, the certificate's name as the user) on a free
   loopback port, its certificates from a throwaway CA made at the first run. So everything works as
   in production, calls for help and applications included (they carry personal data and leave a
   booth only over TLS);
2. **central**: `kiosk central serve` (intake and dashboard) on its own SQLite database, with its own
   certificate (`central-1`); at the first run an admin account with a random password, printed at
   every run while that account is the one made here;
3. **the booth**: `kiosk run` with the simulated card reader, printer and scanner and a generated
   config pointing at that broker with the booth's certificate: the touchscreen in a window when
   there is a display, the core alone (`--headless`) when there is none.

It waits for each to be ready (the broker accepting, central's intake connected, the booth's birth and
heartbeat in central's database), prints the dashboard's address and login, relays the booth's and
central's logs to the terminal (prefixed) and to files, and stops everything on SIGINT (Ctrl-C) or
SIGTERM: the booth first (it says "offline" to central on its way out), then central, then the broker,
each by SIGTERM to its own process group, SIGKILL after a wait or at a second Ctrl-C. The children run
in their own sessions, so a terminal's Ctrl-C reaches this process only and the order holds, and each
is told by the kernel (PR_SET_PDEATHSIG) to stop if this process dies without stopping them.

Everything it writes is under one state directory (default `.dev-run/` in the checkout, git-ignored),
kept between runs: the CA and certificates, the broker's persistence, central's database and keys, the
booth's outbox and device key, the printer simulator's receipts, the logs of the last run. Delete it to
start afresh.

Why a module here and not a `kiosk dev` subcommand or more bash: it is a convenience of a checkout,
not part of what a booth or central installs (`tools/` is not in the wheel: pyproject's packages.find),
so it needs no entry point and no extra. It starts the booth and central through their own commands,
as systemd does on their machines, and imports neither: `appliance/` still never imports `central`
(docs/architecture.md, "Imports point down"), and what it proves is the commands a person runs. Process
groups, ordered stops, a CA and readiness checks read better in Python than in the `dev` script, which
only installs what is missing and calls this.
"""


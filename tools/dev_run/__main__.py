"""`python -m tools.dev_run` (what `./dev run` execs): see the package's docstring."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from provisioning.toml_file import toml_text
from tools.dev_run.children import Child, Failed, Stopped, Supervisor, say
from tools.dev_run.tls import ensure_tls

ROOT = Path(__file__).resolve().parents[2]
BROKER_CONF = ROOT / "central" / "mosquitto" / "kiosk.conf"
DEVICE = "dev-kiosk-0001"
SITE = "开发机 模拟自助服务区"
REGION = "370203"
CENTRAL = "central-1"  # the client id and certificate name the production ACL gives a central instance
CENTRAL_CLI = "central-cli"  # the ACL's name for `kiosk central send`
ADMIN = "admin"
STOP_WAIT_S = 20




def _free(port: int | None) -> bool:
    if not port:
        return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind: TIME_WAIT is no obstacle
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_port(*preferred: int | None) -> int:
    """The first preferred port free on loopback (last run's, then a customary one), else any free one."""
    for port in preferred:
        if _free(port):
            return port  # type: ignore[return-value]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def broker_config(state: Path, port: int, log: Path) -> str:
    """central/mosquitto/kiosk.conf as deployed, with this port, these certificates and this directory."""
    text = BROKER_CONF.read_text()
    tls = state / "tls"
    for deployed, here in [("listener 8883", f"listener {port} 127.0.0.1"),
                           ("/etc/mosquitto/kiosk.acl", str(BROKER_CONF.with_name("kiosk.acl"))),
                           ("/etc/mosquitto/certs/ca.crt", str(tls / "ca.crt")),
                           ("/etc/mosquitto/certs/server.crt", str(tls / "server.crt")),
                           ("/etc/mosquitto/certs/server.key", str(tls / "server.key")),
                           ("/var/lib/mosquitto/", f"{state / 'broker'}/")]:
        if deployed not in text:
            raise Failed(f"{BROKER_CONF.relative_to(ROOT)} no longer says {deployed!r}: "
                         f"tools/dev_run/__main__.py must learn its new shape")
        text = text.replace(deployed, here)
    text = "# Written by ./dev run at each start from central/mosquitto/kiosk.conf: edit that, not this.\n" + text
    text += (f"\n# ./dev run\nlog_dest file {log}\nlog_type error\nlog_type warning\nlog_type notice\n"
             "log_type information\n")
    if os.geteuid() == 0:  # as root, mosquitto would switch to the user `mosquitto`, who cannot read our files
        text += "user root\n"
    return text


def booth_config(state: Path, broker_port: int) -> str:
    tls = state / "tls"
    data = {
        "device": {"id": DEVICE, "site": SITE, "region": REGION},
        "broker": {"host": "127.0.0.1", "port": broker_port, "reconnect_min_s": 1, "reconnect_max_s": 5,
                   "tls": {"ca_file": str(tls / "ca.crt"), "cert_file": str(tls / f"{DEVICE}.crt"),
                           "key_file": str(tls / f"{DEVICE}.key")}},
        "storage": {"dir": str(state / "booth" / "state")},
        "hardware": {"simulated": True},
    }
    return ("# Written by ./dev run at each start (the broker's port can change between runs): the booth as\n"
            "# provisioned, with simulated hardware and a TLS link to the dev broker. See examples/kiosk.toml.\n"
            + toml_text(data))


def central_database(state: Path) -> str:
    return f"sqlite:///{state / 'central' / 'central.sqlite3'}"


def ensure_login(state: Path, kiosk: Path) -> tuple[dict[str, str] | None, str]:
    """The first login and how to say it: made here (an admin with a random password, kept in
    central/first-login.json, 0600) when central's database has no account yet."""
    kept = state / "central" / "first-login.json"
    database = central_database(state)
    if kept.exists():
        return json.loads(kept.read_text()), "made at the first run; `kiosk central user passwd` changes it"
    if (state / "central" / "central.sqlite3").exists():
        listed = subprocess.run([str(kiosk), "central", "user", "list", "--json", "--database", database],
                                capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if listed.returncode == 0 and json.loads(listed.stdout or "[]"):
            return None, "central has accounts already: log in with yours"
    login = {"user": ADMIN, "password": secrets.token_urlsafe(12)}
    made = subprocess.run([str(kiosk), "central", "user", "add", ADMIN, "--role", "admin", "--database", database],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env={**os.environ, "KIOSK_CENTRAL_PASSWORD": login["password"]})
    if made.returncode != 0:
        raise Failed(f"could not make central's first account: {(made.stderr or made.stdout).strip()}")
    kept.touch(mode=0o600)
    kept.chmod(0o600)
    kept.write_text(json.dumps(login) + "\n")
    return login, f"made now, an admin of all regions; kept in {_show(kept)}"


# -- the children ---------------------------------------------------------------------------------------
def _accepting(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _central_connected(url: str) -> bool:
    """Central's own health (loopback may read it without logging in): its intake is on the broker."""
    try:
        with urllib.request.urlopen(f"{url}/api/health", timeout=2) as answer:
            return bool(json.loads(answer.read()).get("broker_connected"))
    except urllib.error.HTTPError as error:  # 503 while not healthy, with the same body
        try:
            return bool(json.loads(error.read() or b"{}").get("broker_connected"))
        except ValueError:
            return False
    except (OSError, ValueError):
        return False


def booth_seen(database: Path, since: float) -> dict[str, Any] | None:
    """The booth as central's database has it, once its birth and a heartbeat of this run are recorded."""
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute("SELECT status, last_heartbeat_at, boot FROM devices WHERE id = ?", (DEVICE,)).fetchone()
            if not (row and row[0] == "online" and (row[1] or 0) >= since):
                return None
            alerts = conn.execute("SELECT message FROM alerts WHERE device = ? AND closed_at IS NULL ORDER BY id",
                                  (DEVICE,)).fetchall()
    except sqlite3.Error:
        return None
    return {"status": row[0], "heartbeat_at": row[1], "boot": row[2], "alerts": [a[0] for a in alerts]}


# -- the run ---------------------------------------------------------------------------------------------
def _show(path: Path) -> str:
    """A path as a newcomer in the checkout would type it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _ports(state: Path) -> dict[str, int]:
    saved_file = state / "ports.json"
    try:
        saved = json.loads(saved_file.read_text())
    except (OSError, ValueError):
        saved = {}
    ports = {"broker": pick_port(saved.get("broker"), 8883), "dashboard": pick_port(saved.get("dashboard"), 8080)}
    if ports["dashboard"] == ports["broker"]:
        ports["dashboard"] = pick_port()
    saved_file.write_text(json.dumps(ports) + "\n")
    return ports


def run(state: Path, headless: bool) -> int:
    kiosk = Path(sys.executable).with_name("kiosk")
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not kiosk.exists():
        raise Failed(f"no `kiosk` command beside {sys.executable}: run ./dev run (it installs the product into .venv)")
    if not Path(mosquitto).exists():
        raise Failed("no mosquitto: ./dev run installs it (apt-get install mosquitto)")
    supervisor = Supervisor()  # from here on Ctrl-C and SIGTERM stop the run in order
    fresh = not (state / "central" / "central.sqlite3").exists()
    for sub in ("broker", "central", "booth", "logs"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    say(f"state in {_show(state)}/ " + ("(new: delete it to start afresh)" if fresh else
                                         "(kept from the last run: central's data, the booth's outbox, the broker's "
                                         "sessions; delete it to start afresh)"))
    if ensure_tls(state / "tls", (DEVICE, CENTRAL, CENTRAL_CLI)):
        say(f"made a throwaway CA and certificates for the broker, central and the booth in {_show(state / 'tls')}/")
    login, login_note = ensure_login(state, kiosk)  # before the ports: a port is picked just before it is bound
    ports = _ports(state)
    logs = state / "logs"
    (state / "broker" / "mosquitto.conf").write_text(broker_config(state, ports["broker"], logs / "mosquitto.log"))
    (logs / "mosquitto.log").unlink(missing_ok=True)
    booth_toml = state / "booth" / "kiosk.toml"
    booth_toml.write_text(booth_config(state, ports["broker"]))
    window = not headless and bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))

    try:
        supervisor.start(Child("broker", [mosquitto, "-c", str(state / "broker" / "mosquitto.conf")],
                               logs / "mosquitto.out", cwd=state / "broker", relay=False))
        supervisor.watch(lambda: _accepting(ports["broker"]), 15, f"the broker did not listen on {ports['broker']}")
        url = f"http://127.0.0.1:{ports['dashboard']}"
        tls = state / "tls"
        supervisor.start(Child("central", [
            str(kiosk), "central", "serve", "--database", central_database(state),
            "--broker-host", "127.0.0.1", "--broker-port", str(ports["broker"]), "--client-id", CENTRAL,
            "--ca-file", str(tls / "ca.crt"), "--cert-file", str(tls / f"{CENTRAL}.crt"),
            "--key-file", str(tls / f"{CENTRAL}.key"), "--http-port", str(ports["dashboard"]),
            "--personal-data-key", str(state / "central" / "personal-data.key"),
            "--release-dir", str(state / "central" / "releases")], logs / "central.log", cwd=state / "central"))
        supervisor.watch(lambda: _central_connected(url), 60, "central's intake did not connect to the broker")
        since = time.time()
        booth_argv = [str(kiosk), "run", "--config", str(booth_toml)] + ([] if window else ["--headless"])
        env = {**os.environ, "KIVY_HOME": str(state / "booth" / "kivy")}
        supervisor.start(Child("booth", booth_argv, logs / "booth.log", cwd=state / "booth", env=env))
        seen = supervisor.watch(lambda: booth_seen(state / "central" / "central.sqlite3", since), 60,
                                f"central's database did not get {DEVICE}'s birth and heartbeat")
        _banner(state, ports, url, login, login_note, window, headless, seen)
        supervisor.watch()
    except Stopped:
        pass
    except Failed as problem:
        say(str(problem))
        supervisor.stop_all()
        say(f"stopped everything; the data stays in {_show(state)}/")
        return 1
    clean = supervisor.stop_all()
    say("stopped: booth, central and broker" + ("" if clean else " (not all cleanly: see above)")
        + f"; the data stays in {_show(state)}/ for the next run")
    return 0 if clean else 1


def _banner(state: Path, ports: dict[str, int], url: str, login: dict[str, str] | None, login_note: str,
            window: bool, headless: bool, seen: dict[str, Any]) -> None:
    tls, database = state / "tls", f"sqlite:///{_show(state / 'central' / 'central.sqlite3')}"
    who = f"{login['user']} / {login['password']}   ({login_note})" if login else login_note
    booth = ("the touchscreen in a window" if window else "the core alone (--headless)" if headless else
             "the core alone, no display here (set DISPLAY for the touchscreen window)")
    send = (f".venv/bin/kiosk central send {DEVICE} print-test --wait 20 --database {database} "
            f"--broker-port {ports['broker']} --ca-file {_show(tls / 'ca.crt')} "
            f"--cert-file {_show(tls / (CENTRAL_CLI + '.crt'))} --key-file {_show(tls / (CENTRAL_CLI + '.key'))}")
    lines = [
        "",
        "the whole product is running, wired together:",
        f"  dashboard  {url}/",
        f"  login      {who}",
        f"  central    intake + dashboard, database {_show(state / 'central' / 'central.sqlite3')}",
        f"  broker     mosquitto on 127.0.0.1:{ports['broker']} with the production config (TLS, a certificate "
        "each, the ACL)",
        f"  booth      {DEVICE} ({SITE}, region {REGION}): {booth}; simulated card reader, printer and scanner",
        f"             online at central (boot {seen['boot']}, heartbeat received); config "
        f"{_show(state / 'booth' / 'kiosk.toml')}",
        *(f"             open alert: {message}" + (" — this machine's clock is not NTP-synchronised, so the "
                                                    "dashboard shows the booth degraded" if "clock" in message else "")
          for message in seen["alerts"]),
        f"  receipts   {_show(state / 'booth' / 'state' / 'sim' / 'receipts')}/ (the simulated printer's paper, PNG)",
        f"  logs       {_show(state / 'logs')}/ (booth.log, central.log, mosquitto.log; below: booth and central)",
        "",
        "what you will see: the booth on the dashboard's overview, online, its heartbeat every minute; what a",
        "citizen does at the booth (a guide printed, an application, a rating, a call for help) arrives at",
        "central over TLS and shows on the dashboard's pages. Try a remote command from another terminal:",
        f"  {send}",
        f"  .venv/bin/kiosk status --config {_show(state / 'booth' / 'kiosk.toml')}",
        "",
        "Ctrl-C stops all three.",
        "",
    ]
    print("\n".join(f"dev run: {line}" if line else "dev run:" for line in lines), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev run", description=__doc__.split("\n\n")[0],
                                     epilog="./dev run --booth-only runs the booth alone, as before: no broker, "
                                            "no central (examples/kiosk.dev.toml, or $KIOSK_CONFIG).")
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".dev-run",
                        help="where everything is kept between runs (default .dev-run in the checkout)")
    parser.add_argument("--headless", action="store_true", help="the booth's core without its window, "
                                                                "even with a display")
    args = parser.parse_args(argv)
    try:
        return run(args.state_dir.resolve(), args.headless)
    except Failed as problem:
        say(str(problem))
        return 1


if __name__ == "__main__":
    sys.exit(main())

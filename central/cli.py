"""`kiosk central serve | devices | send | case | health | dead-letters | user | audit | release`: run central,
and what an operator or an administrator does from a shell (`release`: central.releases.command)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from appliance.delivery.mqtt_client import mqtt_client
from appliance.errors import friendly
from central.releases.command import add_release_commands
from central.settings import CentralSettings, SettingsError, Thresholds, build_settings
from central.shell import existing_database, shell_actor
from central.user_command import add_user_commands

DEFAULT_DATABASE = "sqlite:///central.sqlite3"


def _settings(args: argparse.Namespace) -> CentralSettings:
    thresholds = {name: getattr(args, name, None) for name in Thresholds.model_fields}
    return build_settings(
        broker_host=args.broker_host, broker_port=args.broker_port, ca_file=args.ca_file, cert_file=args.cert_file,
        key_file=args.key_file, database=args.database, client_id=getattr(args, "client_id", None),
        session_expiry_s=getattr(args, "session_expiry_s", None),
        http_host=getattr(args, "http_host", None), http_port=getattr(args, "http_port", None),
        heartbeat_retention_days=getattr(args, "retention_days", None),
        allowed_hosts=getattr(args, "allowed_host", None), root_path=getattr(args, "root_path", None),
        trusted_proxies=getattr(args, "trusted_proxy", None), metrics_from=getattr(args, "metrics_from", None),
        session_idle_min=getattr(args, "session_idle_min", None), follow_up_days=getattr(args, "follow_up_days", None),
        holidays=getattr(args, "holiday", None), personal_data_days=getattr(args, "personal_data_days", None),
        catalogue=getattr(args, "catalogue", None), assist_escalation_s=getattr(args, "assist_escalation_s", None),
        staff_hours=getattr(args, "staff_hours", None), personal_data_key=getattr(args, "personal_data_key", None),
        release_dir=getattr(args, "release_dir", None), release_bytes_per_s=getattr(args, "release_bytes_per_s", None),
        thresholds={k: v for k, v in thresholds.items() if v is not None})


def _serve(args: argparse.Namespace) -> int:
    """The composition root: the database, the assist desk, the intake, the catalogue's names and the dashboard."""
    from central import accounts
    from central.assist_desk import AssistDesk
    from central.catalogue_names import CatalogueNames
    from central.database import Database
    from central.fleet import FleetSnapshot
    from central.intake import Intake
    from central.metrics import render
    from central.web.app import Dashboard
    from central.web.context import WebContext
    from central.workdays import add_working_days

    settings = _settings(args)
    db = Database(settings.database)
    db.follow_up_due = lambda opened: add_working_days(opened, settings.follow_up_days, settings.holidays)
    names = CatalogueNames.load(settings.catalogue)
    desk = AssistDesk(db, settings)
    desk.seal.load()  # a key file that cannot be read or made stops central now, not at the first call back
    intake = Intake(settings, db, desk)
    context = WebContext(db=db, settings=settings, names=names, send_command=intake.send_command,
                         health=intake.health, metrics=lambda: render(intake, db), fleet=FleetSnapshot(db),
                         desk=desk, publish=intake.publish)
    try:
        dashboard = Dashboard(context)
    except OSError as exc:
        raise SettingsError(f"the dashboard cannot listen on {settings.http_host}:{settings.http_port}: "
                            f"{exc.strerror}") from None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signum, _frame: stop.set())
    intake.start()
    dashboard.start()
    with db.read() as conn:
        nobody = not accounts.list_users(conn)
    print(f"central: intake from {settings.broker_host}:{settings.broker_port} into {settings.database}; "
          f"dashboard at {dashboard.url}/" + ("; no users yet: add one with `kiosk central user add NAME "
                                              "--role admin`" if nobody else ""), file=sys.stderr, flush=True)
    while not stop.wait(1):
        if not intake.alive() or not dashboard.alive():  # never run on half-dead: systemd restarts central
            print("central: an intake or web thread has died; exiting so central is restarted", file=sys.stderr,
                  flush=True)
            dashboard.stop()
            return 1
    dashboard.stop()
    intake.stop()
    return 0


def _devices(args: argparse.Namespace) -> int:
    from central.fleet import fleet_rows

    db = existing_database(args.database)
    with db.read() as conn:
        rows = fleet_rows(db, conn, time.time())
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    columns = ("device", "region", "site", "state", "heartbeat", "printer", "card_reader", "outbox", "oldest",
               "software", "alerts")
    table = [columns] + [tuple(str(row[c]) for c in columns) for row in rows]
    widths = [max(_width(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        print("  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(line, widths, strict=True)).rstrip())
    print(f"{len(rows)} devices")
    return 0


def _case(args: argparse.Namespace) -> int:
    """The back office moves a case on (审核中, 已办结 …); booths' progress queries then show it."""
    from central.accounts import User
    from central.backoffice import CaseError, set_status

    db = existing_database(args.database)
    try:
        with db.transaction() as conn:
            set_status(conn, User(shell_actor(), "admin", ()), args.case_no, args.status, args.note, "")
    except CaseError as exc:
        raise SettingsError(str(exc)) from None
    except LookupError:
        raise SettingsError(f"no case {args.case_no!r} (case numbers look like 202600000001)") from None
    print(f"case {args.case_no}: {args.status}" + (f" ({args.note})" if args.note else ""))
    return 0


def _dead_letters(args: argparse.Namespace) -> int:
    """What central could never record, newest first: when, which booth, which event, and why."""

    db = existing_database(args.database)
    with db.read() as conn:
        found = db.dead_letters(conn, args.limit, args.device)
    if args.json:
        print(json.dumps(found, ensure_ascii=False, indent=1))
        return 0
    for row in found:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["received_at"]))
        event = f" event {row['event']} seq {row['seq']}" if row["event"] else ""
        print(f"{when}  {row['device'] or '-'}{event}  {row['size']} bytes  {row['reason']}")
    print(f"{len(found)} dead letters" + (f" (the newest {args.limit})" if len(found) == args.limit else ""))
    return 0


def _health(args: argparse.Namespace) -> int:
    """The running central's own health (from its /api/health), for an operator or a monitoring check:
    exit status 0 healthy, 1 not (database failing, broker away, a thread dead)."""
    import urllib.error
    import urllib.request

    url = args.url.rstrip("/") + "/api/health"
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            found = json.loads(answer.read())
    except urllib.error.HTTPError as error:
        try:
            found = json.loads(error.read() or b"{}")
        except ValueError:
            found = {}
        if error.code != 503:  # not central's own verdict: the URL, the Host or the address is wrong
            print(f"central NOT ok: {url} answered {error.code} {found.get('error', error.reason)} (give the address "
                  "`kiosk central serve` listens on, from a --metrics-from address)")
            return 1
    except (OSError, ValueError) as exc:
        print(f"central NOT ok: cannot read {url} (is `kiosk central serve` running there?): {exc}")
        return 1
    if args.json:
        print(json.dumps(found, ensure_ascii=False, indent=1))
    elif found.get("ok"):
        print(f"central ok: broker connected, database ok, {found.get('held_messages', 0)} messages in hand")
    else:
        problems = []
        if not found.get("database_ok", True):
            problems.append(f"database failing for {found.get('database_failing_s')} s "
                            f"({found.get('database_last_error')}), {found.get('held_messages')} messages held")
        if not found.get("broker_connected", True):
            problems.append("not connected to the broker")
        if not found.get("threads_alive", True):
            problems.append("an intake thread has died")
        print("central NOT ok: " + ("; ".join(problems) or found.get("error", "unknown")))
    return 0 if found.get("ok") else 1


def _width(text: str) -> int:
    """Columns a terminal gives `text`: CJK characters take two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _send(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from central.commands import send_commands
    from central.fleet import devices_in
    from central.tables import devices

    settings = _settings(args)
    db = existing_database(settings.database)
    try:
        command_args = json.loads(args.args) if args.args else None
    except ValueError:
        raise SettingsError(f"--args {args.args!r} is not JSON (e.g. '{{\"on\": true}}')") from None
    with db.read() as conn:
        targets = devices_in(conn, region=args.region) if args.region else [args.device]
        known = set(targets) if args.region else set(conn.execute(select(devices.c.id)).scalars())
    if not args.region and args.device not in known:
        print(f"kiosk central: note: central has never heard from {args.device!r}; the command waits at the broker "
              "for it until it expires (check the name with `kiosk central devices`)", file=sys.stderr)
    client = mqtt_client(f"{settings.client_id}-send-{int(time.time())}", ca_file=settings.ca_file,
                         cert_file=settings.cert_file, key_file=settings.key_file)
    accepted, answer = threading.Event(), []
    client.on_connect = lambda _c, _u, _f, reason, _p: (answer.append(reason), accepted.set())
    where = f"{settings.broker_host}:{settings.broker_port}"
    try:
        client.connect(settings.broker_host, settings.broker_port)
    except OSError as exc:
        raise SettingsError(f"cannot reach the broker at {where}: {exc}") from None
    client.loop_start()
    if not accepted.wait(10) or answer[0].is_failure:
        client.loop_stop()
        raise SettingsError(f"the broker at {where} did not accept us ({answer[0] if answer else 'no answer'}): "
                            "give central's certificate with --cert-file and --key-file")
    sent = send_commands(client, db, targets, args.command, command_args, args.expires, sent_by=shell_actor())
    client.disconnect()
    client.loop_stop()
    for device, request_id in sent.items():
        print(f"sent {args.command} to {device} as {request_id}")
    if args.wait > 0:
        return _await_results(db, sent, args.wait)
    return 0


def _await_results(db, sent: dict[str, str], wait_s: float) -> int:
    """Print each result as the running intake records it; 1 if any failed or did not come in time."""
    deadline, pending, failed = time.time() + wait_s, dict(sent), 0
    while pending and time.time() < deadline:
        with db.read() as conn:
            for device, request_id in list(pending.items()):
                command = db.command(conn, request_id)
                if command and command["answered_at"] is not None:
                    outcome = json.dumps(command["result"], ensure_ascii=False)
                    print(f"{device}: {'ok' if command['ok'] else 'FAILED'} {outcome}")
                    failed += not command["ok"]
                    del pending[device]
        time.sleep(0.2)
    for device in pending:
        print(f"{device}: no result within {wait_s:g} s (is `kiosk central serve` running? is the booth online?)")
    return 1 if failed or pending else 0


def _operator_errors() -> tuple[type[Exception], ...]:
    """What an operator can fix: the subcommand ends with one line and exit status 2, not a traceback.
    Imported when a subcommand runs: the database's modules need the central extra."""
    from central.commands import CommandError
    from central.database import DatabaseError
    from central.releases.store import ReleaseError

    return SettingsError, CommandError, DatabaseError, ReleaseError


_friendly = friendly("kiosk central", _operator_errors)


def _connection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="sqlite:///PATH or postgresql+psycopg://…")
    parser.add_argument("--broker-host", default="127.0.0.1")
    parser.add_argument("--broker-port", type=int, default=8883)
    parser.add_argument("--ca-file", type=Path)
    parser.add_argument("--cert-file", type=Path)
    parser.add_argument("--key-file", type=Path)


def add_central_commands(commands: Any) -> None:
    central = commands.add_parser("central", help="the central fleet monitor and intake")
    sub = central.add_subparsers(dest="central_command", required=True)

    serve = sub.add_parser("serve", help="receive what the booths publish and serve the dashboard")
    _connection_flags(serve)
    serve.add_argument("--client-id", default="central-1",
                       help="unique per central instance; the production broker uses the certificate's CN instead")
    serve.add_argument("--http-host", default="127.0.0.1")
    serve.add_argument("--http-port", type=int, default=8080)
    serve.add_argument("--retention-days", type=int, help="keep heartbeats this many days (default 30)")
    serve.add_argument("--session-expiry-s", type=int,
                       help="seconds the broker keeps this instance's session after it stops (default 60)")
    web = serve.add_argument_group("the dashboard on the office network")
    web.add_argument("--allowed-host", action="append", metavar="NAME",
                     help="a Host the dashboard answers to (repeat; default 127.0.0.1 and localhost)")
    web.add_argument("--root-path", help="the path prefix the reverse proxy serves central under, e.g. /central")
    web.add_argument("--trusted-proxy", action="append", metavar="ADDRESS",
                     help="a proxy whose X-Forwarded-For/-Proto are believed (repeat; default 127.0.0.1)")
    web.add_argument("--metrics-from", action="append", metavar="NETWORK",
                     help="who may read /metrics and /api/health without logging in (repeat; default loopback)")
    web.add_argument("--session-idle-min", type=int, help="log out after this many idle minutes (default 30)")
    web.add_argument("--follow-up-days", type=int, help="working days to close a 差评 follow-up (default 5)")
    web.add_argument("--holiday", action="append", metavar="YYYY-MM-DD", help="a day that is not a working day")
    web.add_argument("--personal-data-days", type=int,
                     help="erase an applicant's personal data this many days after the case closed (default 180)")
    web.add_argument("--catalogue", type=Path, help="the catalogue source folder items are named from "
                                                    "(default: the one shipped in central/catalog)")
    desk = serve.add_argument_group("the assist desk (帮办代办)")
    desk.add_argument("--assist-escalation-s", type=int, metavar="S",
                      help="escalate a request nobody took within this many seconds (default 180)")
    desk.add_argument("--staff-hours", metavar="HH:MM-HH:MM",
                      help="when the desk is staffed on working days, e.g. 08:30-17:30 (default: always); "
                           "outside them a request becomes a call back")
    desk.add_argument("--personal-data-key", type=Path, metavar="PATH",
                      help="the key file sealing call-back numbers (made, 0600, when missing; default "
                           "central-personal-data.key); every instance on one database needs the same file")
    releases = serve.add_argument_group("software releases")
    releases.add_argument("--release-dir", type=Path, metavar="PATH",
                          help="where `kiosk central release add` keeps bundles (default central-releases); booths "
                               "fetch their files from here, so every instance needs the same folder")
    releases.add_argument("--release-bytes-per-s", type=int, metavar="N",
                          help="the most one booth may fetch per second (default 524288)")
    for name, field in Thresholds.model_fields.items():
        serve.add_argument(f"--{name.replace('_', '-')}", dest=name, type=field.annotation,
                           help=f"{field.description} (default {field.default})")
    serve.set_defaults(func=_friendly(_serve))

    devices = sub.add_parser("devices", help="the fleet as a table")
    devices.add_argument("--database", default=DEFAULT_DATABASE)
    devices.add_argument("--json", action="store_true")
    devices.set_defaults(func=_friendly(_devices))

    health = sub.add_parser("health", help="the running central's health (exit 1 when not healthy)")
    health.add_argument("--url", default="http://127.0.0.1:8080", help="where `kiosk central serve` listens")
    health.add_argument("--json", action="store_true")
    health.set_defaults(func=_friendly(_health))

    dead = sub.add_parser("dead-letters", help="messages central could never record, and why")
    dead.add_argument("--database", default=DEFAULT_DATABASE)
    dead.add_argument("--device", help="only this booth's")
    dead.add_argument("--limit", type=int, default=100)
    dead.add_argument("--json", action="store_true")
    dead.set_defaults(func=_friendly(_dead_letters))

    case = sub.add_parser("case", help="set a case's status, which booths' progress queries show")
    case.add_argument("case_no")
    case.add_argument("status", help="已受理, 审核中, 待补正, 已办结, 已退回 or 不予受理")
    case.add_argument("--note", default="", help="one line for the citizen, e.g. where to collect the result")
    case.add_argument("--database", default=DEFAULT_DATABASE)
    case.set_defaults(func=_friendly(_case))

    add_release_commands(sub, _friendly, DEFAULT_DATABASE)
    add_user_commands(sub, _friendly, DEFAULT_DATABASE)

    send = sub.add_parser("send", help="send a remote command to a device (or a region's devices)")
    _connection_flags(send)
    send.add_argument("device", nargs="?", help="device id (or give --region)")
    send.add_argument("command", help="ping, status, maintenance, reload-catalog, print-test, led-test, …")
    send.add_argument("--region", help="send to every device of this region")
    send.add_argument("--args", help='JSON arguments, e.g. \'{"on": true}\'')
    send.add_argument("--expires", type=float, default=600, help="seconds until the command expires")
    send.add_argument("--wait", type=float, default=0, help="wait this many seconds for the results")
    send.set_defaults(func=_friendly(_send))

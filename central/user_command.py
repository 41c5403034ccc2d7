"""`kiosk central user | audit`: the dashboard's users (add, list, set, disable, enable, passwd) and the audit log,
from a shell; every change is audited under the shell login's name (central.shell)."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from central.settings import SettingsError
from central.shell import ask_password, existing_database, shell_actor


def _user(args: argparse.Namespace) -> int:
    from central import accounts, audit
    from central.database import Database

    db = Database(args.database) if args.user_command == "add" else existing_database(args.database)
    try:
        if args.user_command == "list":
            with db.read() as conn:
                found = accounts.list_users(conn)
            if args.json:
                print(json.dumps(found, ensure_ascii=False, indent=1))
                return 0
            for row in found:
                locked = (row["locked_until"] or 0) > time.time()
                state = ("disabled" if row["disabled"] else
                         f"locked until {time.strftime('%H:%M', time.localtime(row['locked_until']))} "
                         f"(`user enable {row['name']}` unlocks)" if locked else "")
                regions = ",".join(row["regions"]) or "all regions"
                shown = row["display_name"] or "-"  # what a booth shows a citizen when they take a call
                print(f"{row['name']:<20} {shown:<12} {row['role']:<9} {regions:<24} {state}".rstrip())
            print(f"{len(found)} users")
            return 0
        actor, name = shell_actor(), args.name
        with db.transaction() as conn:
            if args.user_command == "add":
                user = accounts.add_user(conn, name, args.role, args.region or [], ask_password(confirm=True),
                                         args.display_name)
                audit.record(conn, actor, "user_added", name, details=user.as_dict())
                said = f"added {name} ({args.role}, {', '.join(user.regions) or 'all regions'})"
            elif args.user_command == "set":
                user = accounts.set_user(conn, name, args.role, args.region or [], args.display_name)
                audit.record(conn, actor, "user_changed", name, details=user.as_dict())
                said = f"{name} is now {user.role} ({', '.join(user.regions) or 'all regions'})" + (
                    f", shown to citizens as {user.display_name}" if user.display_name else "")
            elif args.user_command == "passwd":
                accounts.set_password(conn, name, ask_password(confirm=True))
                audit.record(conn, actor, "user_password", name)
                said = f"new password for {name}"
            else:
                disabled = args.user_command == "disable"
                accounts.set_disabled(conn, name, disabled)
                audit.record(conn, actor, "user_disabled" if disabled else "user_enabled", name)
                said = f"{name} {'disabled: logged out at the next request' if disabled else 'enabled (and unlocked)'}"
    except accounts.AccountError as exc:
        raise SettingsError(str(exc)) from None
    print(said)
    return 0


def _audit(args: argparse.Namespace) -> int:
    """The audit log, newest first."""
    from central import audit

    db = existing_database(args.database)
    with db.read() as conn:
        found = audit.lines(conn, args.limit, args.actor, args.action)
    if args.json:
        print(json.dumps(found, ensure_ascii=False, indent=1))
        return 0
    for line in found:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(line["at"]))
        details = json.dumps(line["details"], ensure_ascii=False) if line["details"] else ""
        print(f"{when}  {line['actor']:<16} {line['address'] or '-':<15} {line['action']:<20} "
              f"{line['target']}{'' if line['ok'] else '  REFUSED'}  {details}".rstrip())
    print(f"{len(found)} lines" + (f" (the newest {args.limit})" if len(found) == args.limit else ""))
    return 0


def add_user_commands(sub: Any, friendly: Callable[[Callable[[argparse.Namespace], int]], Any],
                      default_database: str) -> None:
    user = sub.add_parser("user", help="the dashboard's users: add, list, disable, enable, passwd")
    users = user.add_subparsers(dest="user_command", required=True)
    add = users.add_parser("add", help="add a user (password from KIOSK_CENTRAL_PASSWORD, or asked)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("viewer", "operator", "admin"))
    add.add_argument("--region", action="append", metavar="PREFIX",
                     help="limit to booths whose region code starts with this (repeat); default all regions")
    add.add_argument("--display-name", metavar="TEXT",
                     help="the name a booth shows a citizen whose request they take (default: the user name)")
    listing = users.add_parser("list", help="every user, their role, regions and state")
    listing.add_argument("--json", action="store_true")
    change = users.add_parser("set", help="change a user's role and regions (the regions given replace theirs), "
                                          "or their display name")
    change.add_argument("name")
    change.add_argument("--role", choices=("viewer", "operator", "admin"), help="without it, role and regions stay")
    change.add_argument("--region", action="append", metavar="PREFIX", help="(repeat); none: all regions")
    change.add_argument("--display-name", metavar="TEXT",
                        help='what citizens are told took their request ("" removes it)')
    for verb, text in (("disable", "stop a user logging in (their sessions end at once)"),
                       ("enable", "let a disabled user log in again; also lifts a lock after failed logins"),
                       ("passwd", "set a new password (KIOSK_CENTRAL_PASSWORD, or asked)")):
        users.add_parser(verb, help=text).add_argument("name")
    for parser in users.choices.values():
        parser.add_argument("--database", default=default_database)
    user.set_defaults(func=friendly(_user))

    audit = sub.add_parser("audit", help="the audit log: logins, commands, case changes, users, newest first")
    audit.add_argument("--database", default=default_database)
    audit.add_argument("--limit", type=int, default=100)
    audit.add_argument("--actor", help="only this user's")
    audit.add_argument("--action", help="only this action (login, login_failed, command, case_status, …)")
    audit.add_argument("--json", action="store_true")
    audit.set_defaults(func=friendly(_audit))

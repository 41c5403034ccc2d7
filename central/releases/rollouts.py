"""Rollouts: a release offered to booths wave by wave, going on only while the booths commit it.

An admin starts one for a region, a list of booths, or a share of a region's booths, with wave sizes (in % of
its booths, e.g. 10/30/60) and a halt threshold. The booths are put in a random order once and cut into waves;
wave 1 is offered at once. The rollout is then judged on central's clock (the intake's sweep) from what the
booths report (central.releases.reports):

- a booth that reports `committed` for the version, or runs it, is done; one that reports `rolled_back` (or
  `refused`: it will not run this release either) has failed, with its reason;
- when more than the threshold's share of the current wave has failed, the rollout halts by itself (audited
  as central's) and every offer no booth has acted on yet is withdrawn;
- when every booth of the current wave is done or failed (failures within the threshold), the next wave is
  offered; after the last one the rollout is completed. A booth that never reports holds its wave: the page
  names it.

Pausing stops offering new waves (what is offered goes on); halting also withdraws the offers not acted on (a
booth that began — fetched a chunk, or reported the version — finishes or rolls back by itself). A booth is in
one unfinished rollout at a time: its offer is one retained message.

An offer is a retained message on `kiosk/v1/{device}/release/offer`, its withdrawal an empty retained one. The
rows say what the broker should hold and `published_at` whether it does: `RolloutRunner` publishes what is not
yet published after the commit that decided it, then marks it; a crash between the two publishes it again.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, or_, select, update

from appliance.contract import UpdateState, encode, release_offer_topic
from central import audit
from central.accounts import REGION_PREFIX, User
from central.database import Database
from central.releases.store import offer_body, release_row
from central.tables import device_updates, devices, releases, rollout_booths, rollouts

RUNNING, PAUSED, HALTED, COMPLETED = "running", "paused", "halted", "completed"
UNFINISHED = (RUNNING, PAUSED)
COMMITTED, ROLLED_BACK, REFUSED, WITHDRAWN = "committed", "rolled_back", "refused", "withdrawn"
FAILED = (ROLLED_BACK, REFUSED)
SETTLED = (COMMITTED, *FAILED)
ACTING = frozenset(state.value for state in UpdateState) - {UpdateState.IDLE.value}
MAX_WAVES = 10
PUBLISH_BATCH = 1000  # offers one run publishes at most (the next run takes the rest)

_rng = random.SystemRandom()


class RolloutError(ValueError):
    """A rollout that cannot be started as asked (HTTP 422); the message says what is allowed."""


class RolloutConflict(Exception):
    """Not now: the rollout is not in a state that allows it, or its booths are in another (HTTP 409)."""


class RolloutForbidden(Exception):
    """The rollout reaches booths outside the user's regions (HTTP 403)."""


@dataclass(frozen=True)
class Target:
    """Which booths: a region's (a code prefix), `percent` of a region's, or `devices` by name."""

    region: str | None = None
    percent: int | None = None
    devices: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        if self.devices:
            return {"devices": list(self.devices)}
        return {"region": self.region, **({"percent": self.percent} if self.percent else {})}


def check_plan(waves: list[int], halt_above: float) -> None:
    if not 1 <= len(waves) <= MAX_WAVES or any(not 1 <= size <= 100 for size in waves) or sum(waves) != 100:
        raise RolloutError(f"waves are 1 to {MAX_WAVES} sizes in % of the rollout's booths, each 1-100, adding up "
                           f"to 100 (e.g. 10, 30, 60); given {waves}")
    if not 0 <= halt_above < 1:
        raise RolloutError("the halt threshold is a share of a wave from 0 (halt at the first rollback) to below 100 %")


# -- an admin's actions (each in the caller's transaction, audited there) ---------------------------------------
def start(conn: Connection, user: User, release_id: int, target: Target, waves: list[int], halt_above: float,
          now: float, address: str = "") -> int:
    """A new rollout, its booths cut into waves and wave 1 offered; its id."""
    check_plan(waves, halt_above)
    release = release_row(conn, release_id)
    if release is None:
        raise LookupError(f"no release {release_id}")
    booths = _targets(conn, user, target)
    busy = conn.execute(select(rollout_booths.c.device, rollouts.c.id).join(
        rollouts, rollouts.c.id == rollout_booths.c.rollout).where(
        rollout_booths.c.device.in_(booths), rollouts.c.state.in_(UNFINISHED))).all()
    if busy:
        named = ", ".join(f"{device} (#{rollout})" for device, rollout in busy[:5])
        raise RolloutConflict(f"{len(busy)} of these booths are in a rollout not yet finished: {named}"
                              f"{' …' if len(busy) > 5 else ''}; halt it or leave them out")
    rollout_id = conn.execute(insert(rollouts).values(
        release=release_id, target=target.as_dict(), waves=waves, halt_above=halt_above, state=RUNNING, wave=1,
        created_at=now, created_by=user.name, changed_at=now, changed_by=user.name)).inserted_primary_key[0]
    _rng.shuffle(booths)
    rows, taken = [], 0
    for wave, reach in enumerate(_cumulative(waves), start=1):
        cut = math.ceil(len(booths) * reach / 100)
        rows += [{"rollout": rollout_id, "device": device, "wave": wave} for device in booths[taken:cut]]
        taken = cut
    conn.execute(insert(rollout_booths), rows)
    _offer_wave(conn, rollout_id, 1, now)
    audit.record(conn, user.name, "rollout_started", str(rollout_id), address=address, at=now, details={
        "version": release["version"], "platform": release["platform"], "target": target.as_dict(),
        "waves": waves, "halt_above_pct": round(halt_above * 100, 1), "booths": len(booths)})
    return rollout_id


def pause(conn: Connection, user: User, rollout_id: int, now: float, address: str = "") -> int:
    return _change(conn, user, rollout_id, (RUNNING,), PAUSED, "rollout_paused", now, address)


def resume(conn: Connection, user: User, rollout_id: int, now: float, address: str = "") -> int:
    return _change(conn, user, rollout_id, (PAUSED,), RUNNING, "rollout_resumed", now, address)


def halt(conn: Connection, user: User, rollout_id: int, now: float, address: str = "", reason: str = "") -> int:
    return _change(conn, user, rollout_id, UNFINISHED, HALTED, "rollout_halted", now, address,
            reason or f"由 {user.name} 停止 halted by {user.name}")


def _change(conn: Connection, user: User, rollout_id: int, allowed: tuple[str, ...], state: str, action: str,
            now: float, address: str, reason: str | None = None) -> int:
    """Move the rollout from one of `allowed` to `state`, audited as `action`; its id."""
    rollout = _locked(conn, rollout_id, user)
    if rollout["state"] not in allowed:
        raise RolloutConflict(f"rollout #{rollout_id} is {rollout['state']}: it cannot be "
                              f"{action.removeprefix('rollout_')}")
    details: dict[str, Any] = {"from": rollout["state"]}
    if state == HALTED:
        _settle(conn, rollout, now)  # what booths reported up to now counts: a booth that began keeps its offer
        details.update(reason=reason, withdrawn=_withdraw(conn, rollout_id, now))
    conn.execute(update(rollouts).where(rollouts.c.id == rollout_id).values(
        state=state, changed_at=now, changed_by=user.name, **({"reason": reason} if reason else {})))
    audit.record(conn, user.name, action, str(rollout_id), address=address, at=now, details=details)
    return rollout_id


def _locked(conn: Connection, rollout_id: int, user: User) -> dict[str, Any]:
    """The rollout, locked for this transaction (PostgreSQL; SQLite's writer lock is the transaction), if the
    user may act on all of its booths: LookupError when they see none of them, RolloutForbidden when some."""
    rollout = conn.execute(select(rollouts).where(rollouts.c.id == rollout_id).with_for_update()).mappings().first()
    regions = conn.execute(select(devices.c.region).join(rollout_booths, rollout_booths.c.device == devices.c.id)
                           .where(rollout_booths.c.rollout == rollout_id)).scalars().all()
    covered = sum(user.covers(region) for region in regions)
    if rollout is None or not covered:
        raise LookupError(f"no rollout {rollout_id}")
    if covered < len(regions):
        raise RolloutForbidden(f"rollout #{rollout_id} reaches booths outside your regions")
    return dict(rollout)


def _targets(conn: Connection, user: User, target: Target) -> list[str]:
    """The booths a target names, all of them in the user's regions; one outside is as if it did not exist."""
    if target.devices:
        found = dict(conn.execute(select(devices.c.id, devices.c.region).where(
            devices.c.id.in_(target.devices))).all())
        for device in target.devices:
            if device not in found or not user.covers(found[device]):
                raise LookupError(f"no device {device!r}")
        return list(dict.fromkeys(target.devices))
    if not target.region or not REGION_PREFIX.fullmatch(target.region):
        raise RolloutError("name the booths, or a region by its code or a prefix of it (2-6 digits, e.g. 1101)")
    found = dict(conn.execute(select(devices.c.id, devices.c.region).where(
        devices.c.region.like(f"{target.region}%"))).all())
    if not found or not all(user.covers(region) for region in found.values()):
        raise LookupError(f"no booths in region {target.region}")
    booths = sorted(found)
    if target.percent:
        _rng.shuffle(booths)
        booths = booths[:math.ceil(len(booths) * target.percent / 100)]
    return booths


def _cumulative(waves: list[int]) -> list[int]:
    reach, total = [], 0
    for size in waves:
        total += size
        reach.append(total)
    return reach


# -- judged on central's clock -------------------------------------------------------------------------------
def judge(conn: Connection, now: float) -> None:
    """Every unfinished rollout: the booths' reports counted, then halted, moved on a wave, or completed."""
    for rollout in conn.execute(select(rollouts).where(rollouts.c.state.in_(UNFINISHED)).order_by(rollouts.c.id)
                                .with_for_update()).mappings().all():
        booths = _settle(conn, dict(rollout), now)
        current = [b for b in booths if b["wave"] == rollout["wave"]]
        failed = [b for b in current if b["outcome"] in FAILED]
        if current and len(failed) / len(current) > rollout["halt_above"]:
            share = round(rollout["halt_above"] * 100, 1)
            reason = (f"第 {rollout['wave']} 批 {len(current)} 台中 {len(failed)} 台回退，超过 {share:g}%，已自动停止 "
                      f"wave {rollout['wave']}: {len(failed)} of {len(current)} booths rolled back, over {share:g} %")
            withdrawn = _withdraw(conn, rollout["id"], now)
            conn.execute(update(rollouts).where(rollouts.c.id == rollout["id"]).values(
                state=HALTED, reason=reason, changed_at=now, changed_by=audit.SYSTEM))
            audit.record(conn, audit.SYSTEM, "rollout_halted", str(rollout["id"]), at=now, details={
                "from": rollout["state"], "reason": reason, "wave": rollout["wave"], "failed": len(failed),
                "booths": len(current), "withdrawn": withdrawn,
                "booths_failed": {b["device"]: b["reason"] or b["outcome"] for b in failed[:20]}})
        elif rollout["state"] == RUNNING and all(b["outcome"] in SETTLED for b in current):
            _next_wave(conn, dict(rollout), booths, now)


def _settle(conn: Connection, rollout: dict[str, Any], now: float) -> list[dict[str, Any]]:
    """The rollout's booths, each offered one's outcome taken from what it reported (for good: a booth that rolled
    back stays a rollback of this rollout), and when it began acting on the offer."""
    version = conn.execute(select(releases.c.version).where(releases.c.id == rollout["release"])).scalar_one()
    booths = [dict(row) for row in conn.execute(
        select(rollout_booths, device_updates.c.state.label("update_state"),
               device_updates.c.version.label("update_version"), device_updates.c.reason.label("update_reason"),
               devices.c.software)
        .join(devices, devices.c.id == rollout_booths.c.device)
        .outerjoin(device_updates, device_updates.c.device == rollout_booths.c.device)
        .where(rollout_booths.c.rollout == rollout["id"])).mappings()]
    for booth in booths:
        if booth["offered_at"] is None or booth["outcome"] is not None:
            continue
        said = booth["update_state"] if booth["update_version"] == version else None
        changes: dict[str, Any] = {}
        if said in FAILED:
            changes = {"outcome": said, "outcome_at": now, "reason": (booth["update_reason"] or "")[:200] or None}
        elif said == COMMITTED or booth["software"] == version:
            changes = {"outcome": COMMITTED, "outcome_at": now}
        if (said in ACTING or changes) and booth["acted_at"] is None:
            changes["acted_at"] = now
        if changes:
            conn.execute(update(rollout_booths).where(rollout_booths.c.rollout == rollout["id"],
                                                      rollout_booths.c.device == booth["device"]).values(**changes))
            booth.update(changes)
    return booths


def _next_wave(conn: Connection, rollout: dict[str, Any], booths: list[dict[str, Any]], now: float) -> None:
    waves_with_booths = {b["wave"] for b in booths}
    following = [w for w in range(rollout["wave"] + 1, len(rollout["waves"]) + 1) if w in waves_with_booths]
    if not following:
        conn.execute(update(rollouts).where(rollouts.c.id == rollout["id"]).values(
            state=COMPLETED, changed_at=now, changed_by=audit.SYSTEM))
        return
    conn.execute(update(rollouts).where(rollouts.c.id == rollout["id"]).values(
        wave=following[0], changed_at=now, changed_by=audit.SYSTEM))
    _offer_wave(conn, rollout["id"], following[0], now)


def _offer_wave(conn: Connection, rollout_id: int, wave: int, now: float) -> None:
    conn.execute(update(rollout_booths).where(rollout_booths.c.rollout == rollout_id, rollout_booths.c.wave == wave)
                 .values(offered_at=now, published_at=None))


def _withdraw(conn: Connection, rollout_id: int, now: float) -> int:
    """Withdraw every offer of the rollout no booth has acted on; how many."""
    return conn.execute(update(rollout_booths).where(
        rollout_booths.c.rollout == rollout_id, rollout_booths.c.offered_at.is_not(None),
        rollout_booths.c.outcome.is_(None), rollout_booths.c.acted_at.is_(None)).values(
        outcome=WITHDRAWN, outcome_at=now, published_at=None)).rowcount


# -- the retained offers on the broker -------------------------------------------------------------------------
@dataclass(frozen=True)
class Offer:
    """What the broker should hold for a booth: its latest rollout's offer, or nothing (withdrawn)."""

    device: str
    rollout: int
    withdrawn: bool
    payload: bytes  # empty: a withdrawal

    @property
    def topic(self) -> str:
        return release_offer_topic(self.device)


def unpublished(conn: Connection) -> list[Offer]:
    """Each booth whose retained offer is not yet as its rows say: its latest offered rollout's offer or
    withdrawal (an older rollout's row is superseded by it)."""
    waiting = conn.execute(select(rollout_booths.c.device).where(
        rollout_booths.c.published_at.is_(None), rollout_booths.c.offered_at.is_not(None))
        .group_by(rollout_booths.c.device).limit(PUBLISH_BATCH)).scalars().all()
    if not waiting:
        return []
    latest: dict[str, dict[str, Any]] = {}
    for row in conn.execute(select(rollout_booths.c.device, rollout_booths.c.rollout, rollout_booths.c.outcome,
                                   rollouts.c.release)
                            .join(rollouts, rollouts.c.id == rollout_booths.c.rollout)
                            .where(rollout_booths.c.device.in_(waiting), rollout_booths.c.offered_at.is_not(None))
                            .order_by(rollout_booths.c.rollout)).mappings():
        latest[row["device"]] = dict(row)
    bodies = {release: release_row(conn, release) for release in {row["release"] for row in latest.values()}}
    offers = []
    for device, row in latest.items():
        withdrawn = row["outcome"] == WITHDRAWN
        payload = b"" if withdrawn else encode(offer_body(bodies[row["release"]], row["rollout"]))
        offers.append(Offer(device, row["rollout"], withdrawn, payload))
    return offers


def mark_published(conn: Connection, offers: list[Offer], now: float) -> None:
    """The broker holds these now: their rows (and the older ones they supersede) are marked, unless the row
    changed meanwhile (an offer withdrawn after it was read): that one is published again."""
    for withdrawn in (True, False):
        same = rollout_booths.c.outcome == WITHDRAWN if withdrawn else or_(
            rollout_booths.c.outcome.is_(None), rollout_booths.c.outcome != WITHDRAWN)
        rows = [{"d": o.device, "r": o.rollout} for o in offers if o.withdrawn == withdrawn]
        if rows:
            conn.execute(update(rollout_booths).where(
                rollout_booths.c.device == bindparam("d"), rollout_booths.c.published_at.is_(None),
                rollout_booths.c.offered_at.is_not(None),
                or_(rollout_booths.c.rollout < bindparam("r"), and_(rollout_booths.c.rollout == bindparam("r"), same)))
                .values(published_at=now).execution_options(synchronize_session=False), rows)


class RolloutRunner:
    """Judges the rollouts and puts their offers on the broker: the intake's sweep runs it."""

    def __init__(self, db: Database, publish_retained: Callable[[str, bytes], bool]) -> None:
        self.db = db
        self.publish_retained = publish_retained  # True once the client took it for the broker

    def run(self, now: float) -> int:
        """One round; how many offers (and withdrawals) went to the broker."""
        with self.db.transaction() as conn:
            judge(conn, now)
            offers = unpublished(conn)
        sent = [offer for offer in offers if self.publish_retained(offer.topic, offer.payload)]
        if sent:
            with self.db.transaction() as conn:
                mark_published(conn, sent, now)
        return len(sent)

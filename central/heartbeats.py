"""A booth's heartbeat put back together from the facts central holds of it (docs/asyncapi.yaml, Status and
Heartbeat; README, "The heartbeat").

A booth sends its facts apart from its heartbeats: the *fixed* ones (software, site, region, the devices
fitted, the outbox's bounds, the disk's size, systemd's restart count, TLS, connects since boot) cannot
change while a connection lasts; the *rare* ones (catalogue version, the `update` block, the Pi's
under-voltage and SD-card errors) change now and then and are numbered by `facts_rev`. Both ride every
birth and every tenth heartbeat; the rare ones also ride the three heartbeats after they changed. The
heartbeat itself leaves out nulls, counts of 0 and the drivers that are ok.

`fold_facts` keeps the newest of each kind in `devices.facts`; `complete_heartbeat` lays a heartbeat over them, so
everything that reads a booth's latest heartbeat (the fleet, alerts, the update reports) sees the whole
snapshot as a booth from before sent it in every heartbeat. Such a booth's heartbeats (no `facts_rev`)
are whole already and are kept as they came.
"""

from __future__ import annotations

from typing import Any

from appliance.contract import RARE_FACTS, merge_nested, pick_paths

# Where each fact sits in a booth's snapshot, and so in the birth or heartbeat that carries it.
FIXED = (("software",), ("site",), ("region",), ("fitted",), ("outbox", "policy"), ("system", "disk_total_mb"),
         ("system", "pi", "service_restarts"), ("link", "tls"), ("link", "connects_since_boot"))
RARE = RARE_FACTS  # appliance/contract.py: the booth and central agree on them
OK = {"state": "ok", "reason": "ok"}
# What a heartbeat leaves out reads as this (and a connected booth's link has no error).
LEFT_OUT: dict[str, Any] = {
    "outbox": {"depth": 0, "in_flight": 0, "unconfirmed": 0, "set_aside": 0, "oldest_age_s": None,
               "oldest_unconfirmed_age_s": None, "refused_since_boot": 0, "expired_since_boot": 0},
    "link": {"connected": True, "last_error": None, "held_for_tls": 0},
    "system": {"mem_available_mb": None, "rss_mb": None, "cpu_temp_c": None},
    "counters": {},
}
NOT_IN_A_SNAPSHOT = ("fitted", "site", "region")  # the device's row has site and region


def carries_rare(said: dict[str, Any]) -> bool:
    return "catalog_version" in said and isinstance(said.get("facts_rev"), int)


def carries_fixed(said: dict[str, Any]) -> bool:
    return isinstance(said.get("fitted"), list)


def fold_facts(known: dict[str, Any] | None, said: dict[str, Any]) -> dict[str, Any]:
    """The facts central holds after a birth or heartbeat `said` (of its `boot`): each kind is replaced only
    by a newer word of the booth — a later boot, a higher `facts_rev`, a later connect — so births and
    heartbeats that arrive out of order (several central instances) never bring back an older one."""
    known = dict(known) if isinstance(known, dict) else {}
    boot = said["boot"]
    if carries_rare(said):
        held = known.get("rare")
        if not held or (boot, said["facts_rev"]) >= (held["boot"], held["rev"]):
            known["rare"] = {"boot": boot, "rev": said["facts_rev"], "said": pick_paths(said, RARE)}
    if carries_fixed(said):
        connects = (said.get("link") or {}).get("connects_since_boot") or 0
        held = known.get("fixed")
        if not held or (boot, connects) >= (held["boot"], held["connects"]):
            known["fixed"] = {"boot": boot, "connects": connects, "said": pick_paths(said, FIXED)}
    return known


def fixed_facts(known: dict[str, Any] | None) -> dict[str, Any]:
    return ((known or {}).get("fixed") or {}).get("said") or {}


def complete_heartbeat(beat: dict[str, Any], known: dict[str, Any] | None, software: str = "") -> dict[str, Any]:
    """The whole snapshot from a heartbeat and the facts held (`fold_facts` it in first). `facts_stale` is True
    when the heartbeat numbers its rare facts otherwise than those held: central missed a change, and shows
    the last it heard until the booth repeats them (at most ten heartbeats)."""
    if "facts_rev" not in beat:
        return beat
    known = known or {}
    fixed, rare = fixed_facts(known), (known.get("rare") or {})
    whole = merge_nested(merge_nested(merge_nested(LEFT_OUT, fixed), rare.get("said") or {}), beat)
    whole["drivers"] = {**{name: OK for name in fixed.get("fitted") or ()}, **(beat.get("drivers") or {})}
    whole.setdefault("software", software)
    for name in NOT_IN_A_SNAPSHOT:
        whole.pop(name, None)
    whole["facts_stale"] = not rare or (rare["boot"], rare["rev"]) != (beat["boot"], beat["facts_rev"])
    return whole

"""The health a driver reports: one of four states and a reason code a maintainer can look up."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class HealthState(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"  # works, but needs attention soon (paper near end, slow answers)
    FAULT = "fault"  # present but cannot do its job (paper out, cover open, SAM error)
    ABSENT = "absent"  # not there at all (port missing, no answer)


SEVERITY = {HealthState.OK: 0, HealthState.DEGRADED: 1, HealthState.ABSENT: 2, HealthState.FAULT: 2}


@dataclass(frozen=True)
class Health:
    """A driver's state with a short machine-readable reason (`paper_end`, `port_missing`, …)."""

    state: HealthState
    reason: str = "ok"

    def as_dict(self) -> dict[str, str]:
        return {"state": self.state.value, "reason": self.reason}


OK = Health(HealthState.OK)
NOT_OPENED = Health(HealthState.ABSENT, "not_opened")  # until a driver has first tried its device
NOT_FITTED = Health(HealthState.ABSENT, "not_fitted")  # a null device: this booth has none of the kind


class DeviceAbsent(RuntimeError):
    """A capability asked of a device that is not fitted (or cannot be driven here, like LEDs without
    GPIO): the booth carries on without it, and the maintainer reads why."""

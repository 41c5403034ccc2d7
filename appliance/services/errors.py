"""Why a citizen's or a maintainer's action could not be done: a code the screens turn into plain
words, and a message for logs and maintainers (never shown to a citizen as it is)."""

from __future__ import annotations

from appliance.errors import CodedError


class CitizenError(CodedError):
    """A citizen action that cannot be done now; `reason` (for a failed print) says which part failed."""

    def __init__(self, code: str, message: str, reason: str = "") -> None:
        super().__init__(code, message)
        self.reason = reason


class MaintenanceError(CodedError):
    """A maintainer's action at the booth (after the admin PIN) that failed: the message is shown to them."""

"""The back office: cases an office handles and 差评 follow-ups it owes, as operators see and move them.

A case's status is one of CASE_STATUSES (what a booth's progress query shows the citizen); moving it
to a CLOSING status stamps `closed_at`, from which personal data is erased after the retention time
(central.retention). Every change names its operator and is audited in the same transaction.
"""

from __future__ import annotations

CASE_STATUSES = ("已受理", "审核中", "待补正", "已办结", "已退回", "不予受理")
CLOSING = frozenset({"已办结", "已退回", "不予受理"})  # the case is over: the clock of retention starts

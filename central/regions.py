"""Region scoping: a user limited to region code prefixes sees only rows of those regions."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, true

from central.accounts import User


def in_regions(region: ColumnElement[str], user: User) -> ColumnElement[bool]:
    """A condition on a region column: the user's regions (every region for a user without limits)."""
    return or_(*(region.like(f"{prefix}%") for prefix in user.regions)) if user.regions else true()

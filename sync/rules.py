"""Pure rules of the sync app: no database, no network, no clock; the callers pass what they read.

The API-budget guard: while the org's daily Salesforce API use is at or above the admin-set ceiling,
b2s pauses its Salesforce writes (events wait, nothing fails) and resumes below it. The admin's
``api_budget_guard`` setting overrides the rule either way.
"""

from __future__ import annotations

from decimal import Decimal

GUARD_AUTO = "auto"
GUARD_WRITE = "write"  # keep writing whatever the usage
GUARD_PAUSE = "pause"  # pause now, whatever the usage
GUARD_OVERRIDES = (GUARD_AUTO, GUARD_WRITE, GUARD_PAUSE)


def budget_guard_decide(
    *, used: int | None, limit: int | None, ceiling_percent: Decimal | float | int, override: str
) -> tuple[bool, str]:
    """Whether Salesforce writes pause, and why (a sentence for the dashboard, /health and alerts).

    ``used``/``limit``: the latest reading of the org's daily API requests (None: none yet).
    ``override``: ``auto`` (the rule), ``write`` (never pause) or ``pause`` (always); an unknown
    value counts as ``auto``. Without a usable reading (none, or a limit of 0) ``auto`` does not pause:
    Salesforce itself refuses calls past the real limit, and those events fail and are retried.
    """
    if override == GUARD_WRITE:
        return False, "Writing whatever the usage: api_budget_guard is set to 'write'."
    if override == GUARD_PAUSE:
        return True, "Salesforce writes paused by an admin: api_budget_guard is set to 'pause'."
    if used is None or limit is None or limit <= 0:
        return False, "No reading of the org's daily API usage yet."
    ceiling = Decimal(str(ceiling_percent))
    share = Decimal(used) * 100 / Decimal(limit)
    usage = f"{used:,} of {limit:,} daily API requests used ({share:.1f} %)"
    # Exact: used / limit >= ceiling / 100, compared without rounding.
    if Decimal(used) * 100 >= ceiling * Decimal(limit):
        return True, f"Salesforce writes paused: {usage}, at or above the {float(ceiling):g} % ceiling."
    return False, f"{usage}, below the {float(ceiling):g} % ceiling."

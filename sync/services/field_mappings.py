"""A field mapping's Salesforce field checked against the org's describe when an admin saves it.

A typo in ``sf_field`` would otherwise surface only as failed syncs (INVALID_FIELD on every order). The
check warns and never refuses: the org may be unreachable from where the admin runs, or the field about
to be created.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import requests

from sync.salesforce import SalesforceError, salesforce_client

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FieldCheck:
    """``known`` True or False when the describe answered; None when the check could not run (``message``)."""

    known: bool | None
    message: str


def field_mapping_check(*, sf_object: str, sf_field: str, fails: str = "") -> FieldCheck:
    """Whether ``sf_object`` has a field ``sf_field`` in the org (its describe, cached per process).

    ``fails``: what fails while the field is missing (default: every sync writing ``sf_object``).
    """
    try:
        names = salesforce_client().field_names(sf_object)
    except (SalesforceError, requests.RequestException, OSError) as error:
        logger.info("Field mapping check of %s.%s could not run: %s", sf_object, sf_field, type(error).__name__)
        return FieldCheck(
            None,
            f"Could not check {sf_object}.{sf_field} against the Salesforce org ({error}); "
            "the mapping is saved unchecked.",
        )
    # Salesforce field names are case-insensitive; the describe gives their canonical spelling.
    spelled = {name.lower(): name for name in names}
    canonical = spelled.get(sf_field.lower())
    if canonical is None:
        return FieldCheck(
            False,
            f"{sf_object} has no field {sf_field} in the Salesforce org: the mapping is saved, but "
            f"{fails or f'every sync writing {sf_object}'} will fail with INVALID_FIELD until the field exists or "
            "the name is fixed.",
        )
    return FieldCheck(True, f"{sf_object}.{canonical} exists in the Salesforce org.")

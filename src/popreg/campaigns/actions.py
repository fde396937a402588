"""Every write to campaign data.  Like the registry's actions, each ``do_*`` function runs in
one transaction, checks the actor's role and jurisdiction, refuses writes to units the
county has signed off (``CampaignLockedError``), and writes an audit record with
``popreg.registry.actions.audit``.  Resolving a rectification item changes the registry
only through ``popreg.registry.actions`` (so the registry keeps its own events and audit).

Errors are ``CampaignError`` (a ``RegistryError``: Chinese, then English, naming the field).

This module is the public face; the parts live next to it:

- ``_common``: the errors and the shared checks (phase, lock, jurisdiction, dates);
- ``_lifecycle``: creating a campaign, advancing its phases, items from the anomaly rules;
- ``_field``: door-to-door outcomes and found persons;
- ``_rectify``: resolving, rejecting and updating rectification items;
- ``_acceptance``: spot checks and sign-offs;
- workbook upload: :func:`do_upload_workbook` below (the work is in
  :mod:`popreg.campaigns.upload`, which takes the shared checks from ``_common`` and
  ``_field``, not from here: this module imports it).
"""

from __future__ import annotations

from typing import Any

from popreg.campaigns._acceptance import (
    Acceptance,
    do_draw_spot_check,
    do_record_spot_check,
    do_sign_off,
    own_work,
    spot_check_result,
)
from popreg.campaigns._common import CampaignError, CampaignLockedError, unit_names
from popreg.campaigns._field import correctable_field as correctable_field
from popreg.campaigns._field import corrected_value as corrected_value
from popreg.campaigns._field import (
    do_record_found_person,
    do_record_outcome,
    outcome_values,
    record_new_outcomes,
)
from popreg.campaigns._lifecycle import (
    PHASE_FIELDS,
    GenerateResult,
    UnfinishedUnit,
    do_advance_phase,
    do_create_campaign,
    do_generate_items,
    unfinished_units,
)
from popreg.campaigns._rectify import (
    ACTION_LABELS,
    ALLOWED_ACTIONS,
    default_params,
    do_reject_item,
    do_resolve_item,
    do_update_item,
    merge_action,
)
from popreg.campaigns.models import Campaign
from popreg.registry.access import Actor

# ---------------------------------------------------------------- workbook upload


def do_upload_workbook(
    actor: Actor, campaign: Campaign, data: bytes, *, filename: str = "", village_code: str | None = None
) -> Any:
    """Apply a filled field workbook, all rows or none (see :mod:`popreg.campaigns.upload`).

    Returns an ``UploadReport``.
    """
    from popreg.campaigns.upload import upload_workbook

    return upload_workbook(actor, campaign, data, filename=filename, village_code=village_code)


__all__ = [
    "ACTION_LABELS", "ALLOWED_ACTIONS", "Acceptance", "CampaignError", "CampaignLockedError",
    "GenerateResult", "PHASE_FIELDS", "UnfinishedUnit", "default_params", "do_advance_phase",
    "do_create_campaign", "do_draw_spot_check", "do_generate_items", "do_record_found_person",
    "do_record_outcome", "do_record_spot_check", "do_reject_item", "do_resolve_item", "do_sign_off",
    "do_update_item", "do_upload_workbook", "merge_action", "outcome_values", "own_work",
    "record_new_outcomes", "spot_check_result", "unfinished_units", "unit_names",
]

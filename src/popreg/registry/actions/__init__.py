"""Every write to the registry.  Each ``do_*`` function is atomic, checks the actor's
role and jurisdiction, appends an event where the person's state changes, and writes an
audit record.  Web views, the API, bulk import and commands all call these; nothing else
writes registry tables.

The actions are grouped by noun (``persons``, ``households``, ``units``; ``maintenance``
assigns roles and repairs a state from its history); ``events`` holds
the one way a person's history is written and ``checks`` the field checks that the bulk
import shares.  This package re-exports every public action.

Errors are ``RegistryError`` (Chinese + English, naming the field); a refused action
changes nothing.
"""

from __future__ import annotations

from popreg.registry.actions.accounts import (
    do_create_api_token,
    do_create_user,
    do_deactivate_user,
    do_reset_password,
    do_revoke_api_token,
)
from popreg.registry.actions.checks import CORRECTABLE
from popreg.registry.actions.households import (
    do_change_household_address,
    do_change_household_head,
    do_create_household,
    do_dissolve_household,
    do_merge_households,
    do_split_household,
)
from popreg.registry.actions.maintenance import do_assign_role, do_repair_history
from popreg.registry.actions.persons import (
    do_correct_person,
    do_move_in,
    do_move_out,
    do_register_birth,
    do_register_death,
    do_register_discharge,
    do_register_divorce,
    do_register_enlistment,
    do_register_marriage,
    do_transfer,
)
from popreg.registry.actions.units import do_succeed_units

__all__ = [
    "CORRECTABLE",
    "do_assign_role",
    "do_correct_person",
    "do_create_api_token",
    "do_change_household_address",
    "do_change_household_head",
    "do_create_household",
    "do_dissolve_household",
    "do_merge_households",
    "do_split_household",
    "do_create_user",
    "do_deactivate_user",
    "do_move_in",
    "do_move_out",
    "do_register_birth",
    "do_register_death",
    "do_register_discharge",
    "do_register_divorce",
    "do_register_enlistment",
    "do_register_marriage",
    "do_repair_history",
    "do_reset_password",
    "do_revoke_api_token",
    "do_succeed_units",
    "do_transfer",
]

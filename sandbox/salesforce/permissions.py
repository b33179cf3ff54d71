"""The integration user's permissions: permission sets, their assignments, and what they add up to.

A real org grants a user permissions through its profile (a profile-owned permission set,
``IsOwnedByProfile = true``) and the permission sets assigned to it (``PermissionSetAssignment``);
the user's effective permissions are the union, readable by the user itself through
``UserPermissionAccess`` (Object Reference, "UserPermissionAccess": query() of one row, API 41.0+).

After ``reset()`` the org is one where the admin deployed b2s's metadata as its README says: the
permission set ``B2S_Integration`` (``salesforce/force-app/main/default/permissionsets/``) is assigned
to the integration user, whose profile grants API access only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.salesforce.schema import USER_PERMISSIONS

if TYPE_CHECKING:
    from sandbox.salesforce.store import Org

B2S_PERMISSION_SET = "B2S_Integration"
# What b2s's shipped permission set grants (its <userPermissions>; a test keeps the two equal).
# ConvertLeads is what a real org requires for convertLead (with Create on accounts, contacts, opportunities).
B2S_PERMISSIONS = ("ActivateOrder", "ApiEnabled", "ConvertLeads", "EditActivatedOrders", "EditTask", "ViewSetup")
PROFILE_PERMISSIONS = ("ApiEnabled",)
# UserPermissionAccess has no record id of its own; Salesforce answers this placeholder.
USER_PERMISSION_ACCESS_ID = "000000000000000AAA"


def permission_field(name: str) -> str:
    """``EditActivatedOrders`` -> ``PermissionsEditActivatedOrders`` (both spellings accepted)."""
    return name if name.startswith("Permissions") else f"Permissions{name}"


def permissions_seed(org: Org) -> None:
    """The default org's permission sets and their assignment to the integration user."""
    profile_set = org.seed(
        "PermissionSet",
        Name=f"X00e{org.user_id[5:15]}",
        Label=f"00e{org.user_id[5:15]}",
        IsOwnedByProfile=True,
        **{permission_field(name): True for name in PROFILE_PERMISSIONS},
    )
    b2s_set = org.seed(
        "PermissionSet",
        Name=B2S_PERMISSION_SET,
        Label="B2S Integration",
        Description="Grants the b2s integration user what b2s needs.",
        IsOwnedByProfile=False,
        **{permission_field(name): True for name in B2S_PERMISSIONS},
    )
    for permission_set in (profile_set, b2s_set):
        org.seed("PermissionSetAssignment", AssigneeId=org.user_id, PermissionSetId=permission_set)


# What a service or fulfilment agent's profile grants in the stand-in: enough to mark an activated
# order shipped or cancelled (editing an activated order needs Edit Activated Orders).
AGENT_PERMISSIONS = ("ActivateOrder", "EditActivatedOrders", "EditTask")


def user_seed(
    org: Org,
    *,
    first_name: str,
    last_name: str,
    username: str,
    email: str,
    permissions: tuple[str, ...] = AGENT_PERMISSIONS,
) -> str:
    """Add an active user (not the integration user) with a profile granting ``permissions``; its id."""
    unknown = sorted(name for name in permissions if name.removeprefix("Permissions") not in USER_PERMISSIONS)
    if unknown:
        raise ValueError(f"unknown permission(s) {unknown}; known: {USER_PERMISSIONS}")
    if any(row.get("Username", "").lower() == username.lower() for row in org.live.get("User", {}).values()):
        raise ValueError(f"a user named {username!r} exists")
    user_id = org.seed(
        "User",
        Username=username,
        FirstName=first_name,
        LastName=last_name,
        Name=f"{first_name} {last_name}".strip(),
        Alias=(first_name[:1] + last_name)[:8].lower() or "user",
        Email=email,
        IsActive=True,
        TimeZoneSidKey="GMT",
    )
    profile_set = org.seed(
        "PermissionSet",
        Name=f"X00e{user_id[5:15]}",
        Label=f"00e{user_id[5:15]}",
        IsOwnedByProfile=True,
        **{permission_field(name): True for name in ("ApiEnabled", *permissions)},
    )
    org.seed("PermissionSetAssignment", AssigneeId=user_id, PermissionSetId=profile_set)
    return user_id


def user_permissions(org: Org, user_id: str | None = None) -> dict[str, bool]:
    """``{"EditActivatedOrders": True, ...}``: the union over the user's assigned permission sets."""
    user_id = user_id or org.user_id
    granted = dict.fromkeys(USER_PERMISSIONS, False)
    if "PermissionSetAssignment" not in org.schema:
        return granted
    sets = org.live.get("PermissionSet", {})
    for assignment in org.live.get("PermissionSetAssignment", {}).values():
        permission_set = sets.get(assignment.get("PermissionSetId") or "")
        if assignment.get("AssigneeId") != user_id or permission_set is None:
            continue
        for name in USER_PERMISSIONS:
            granted[name] = granted[name] or bool(permission_set.get(permission_field(name)))
    return granted


def user_has(org: Org, name: str) -> bool:
    """Whether the user making the change (the integration user unless a test acts as another) may do
    what ``name`` allows (always, with ``permission_sets`` off)."""
    if not org.rules.get("permission_sets", True):
        return True
    return user_permissions(org, org.actor_id).get(name.removeprefix("Permissions"), False)


def user_permission_access(org: Org, stamp: str) -> dict[str, Any]:
    """The one UserPermissionAccess row of the integration user."""
    row: dict[str, Any] = dict.fromkeys(org.schema["UserPermissionAccess"].fields)
    row.update(Id=USER_PERMISSION_ACCESS_ID, IsDeleted=False, LastCacheUpdate=stamp)
    for name, value in user_permissions(org).items():
        row[permission_field(name)] = value
    return row


def b2s_permissions_set(org: Org, changes: dict[str, bool]) -> None:
    """Grant or revoke user permissions on the ``B2S_Integration`` permission set (recreated, and
    assigned again, if a test deleted it)."""
    unknown = sorted(name for name in changes if name.removeprefix("Permissions") not in USER_PERMISSIONS)
    if unknown:
        raise ValueError(f"unknown permission(s) {unknown}; known: {USER_PERMISSIONS}")
    if any(not isinstance(value, bool) for value in changes.values()):
        raise ValueError("permissions take true or false")
    found = [row for row in org.live.get("PermissionSet", {}).values() if row.get("Name") == B2S_PERMISSION_SET]
    if found:
        set_id = found[0]["Id"]
        org.seed_update("PermissionSet", set_id, {permission_field(name): value for name, value in changes.items()})
    else:
        set_id = org.seed(
            "PermissionSet",
            Name=B2S_PERMISSION_SET,
            Label="B2S Integration",
            **{permission_field(name): value for name, value in changes.items()},
        )
    assigned = any(
        row.get("PermissionSetId") == set_id and row.get("AssigneeId") == org.user_id
        for row in org.live.get("PermissionSetAssignment", {}).values()
    )
    if not assigned:
        org.seed("PermissionSetAssignment", AssigneeId=org.user_id, PermissionSetId=set_id)

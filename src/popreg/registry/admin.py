"""Django admin: superusers only, and read-only for registry records.

Registry tables change only through ``popreg.registry.actions`` (jurisdiction + audit), so
the admin shows them but cannot add, change or delete them.  Jurisdiction assignments of
users are editable here, saved through ``do_assign_role`` (permission check and audit
record) like every other path; they are never deleted (assign another role instead).
"""

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from popreg.registry import models


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


def _has_id_number(value: Any) -> bool:
    if isinstance(value, dict):
        return any(k == "id_number" and v or _has_id_number(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_id_number(v) for v in value)
    return False


def _audit_shown_id_numbers(request: Any, shown: Any, unit_code: str, values: list[Any]) -> None:
    """An event's changes or an audit record's before/after may hold a full ID number; the
    admin page that shows one is audited like the person's page."""
    from popreg.registry.access import actor_for
    from popreg.registry.audit import AuditAction, audit

    if _has_id_number(values):
        audit(actor_for(request.user), AuditAction.VIEW_ID_NUMBER, shown, unit_code=unit_code or "",
              detail={"page": "admin"})


_USER_FIELDS = ("username", "first_name", "last_name", "email", "is_active", "is_staff",
                "is_superuser")


def _user_state(user: Any) -> dict[str, Any]:
    return {name: getattr(user, name) for name in _USER_FIELDS} | {
        "groups": sorted(g.name for g in user.groups.all()) if user.pk else [],
    }


class AuditedUserAdmin(UserAdmin):  # type: ignore[type-arg]
    """Django's user pages, audited: a user created here, a change of the account (a
    superuser is a county-wide administrator) and a password set here leave the same
    records as the user-management actions (``create_user``, ``change_user``,
    ``reset_password``)."""

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        from popreg.registry.access import actor_for
        from popreg.registry.audit import AuditAction, audit

        before = _user_state(type(obj).objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        if change:
            after = _user_state(obj)
            if after != before:
                audit(actor_for(request.user), AuditAction.CHANGE_USER, obj,
                      before=before, after=after, detail={"user": obj.get_username(), "page": "admin"})
        else:
            audit(actor_for(request.user), AuditAction.CREATE_USER, obj,
                  after=_user_state(obj), detail={"user": obj.get_username(), "page": "admin"})

    def user_change_password(self, request: Any, id: str, form_url: str = "") -> Any:
        from popreg.registry.access import actor_for
        from popreg.registry.audit import AuditAction, audit

        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            user = get_user_model().objects.get(pk=id)
            audit(actor_for(request.user), AuditAction.RESET_PASSWORD, user,
                  detail={"user": user.get_username(), "page": "admin"})
        return response


_User = get_user_model()
if admin.site.is_registered(_User):
    admin.site.unregister(_User)
admin.site.register(_User, AuditedUserAdmin)


@admin.register(models.AdminUnit)
class AdminUnitAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "level", "valid_from", "valid_to")
    list_filter = ("level",)
    search_fields = ("code", "name")


@admin.register(models.Person)
class PersonAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "sex", "birth_date", "registered_unit", "status")
    list_filter = ("status", "residence_type")
    search_fields = ("=id_number", "name_key")
    raw_id_fields = ("household", "mother", "father", "merged_into")

    def change_view(self, request: Any, object_id: str, form_url: str = "",
                    extra_context: Any = None) -> Any:
        """The page shows the full ID number: it is audited like every other such page."""
        from popreg.registry.access import actor_for
        from popreg.registry.audit import AuditAction, audit

        response = super().change_view(request, object_id, form_url, extra_context)
        person = models.Person.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if person is not None and response.status_code == 200:
            audit(actor_for(request.user), AuditAction.VIEW_ID_NUMBER, person,
                  unit_code=person.registered_unit_id or "", detail={"page": "admin"})
        return response


@admin.register(models.Household)
class HouseholdAdmin(ReadOnlyAdmin):
    list_display = ("household_no", "unit", "kind", "address")
    search_fields = ("=household_no",)


@admin.register(models.Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("id", "person_id", "event_type", "event_date", "recorded_date")
    list_filter = ("event_type",)

    def change_view(self, request: Any, object_id: str, form_url: str = "",
                    extra_context: Any = None) -> Any:
        response = super().change_view(request, object_id, form_url, extra_context)
        event = models.Event.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if event is not None and response.status_code == 200:
            _audit_shown_id_numbers(request, event, event.unit_code,
                                    [event.changes, event.detail])
        return response


@admin.register(models.AuditRecord)
class AuditRecordAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor_name", "action", "target_type", "target_id", "unit_code")
    list_filter = ("action",)

    def change_view(self, request: Any, object_id: str, form_url: str = "",
                    extra_context: Any = None) -> Any:
        response = super().change_view(request, object_id, form_url, extra_context)
        rec = models.AuditRecord.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if rec is not None and response.status_code == 200:
            _audit_shown_id_numbers(request, rec, rec.unit_code, [rec.before, rec.after, rec.detail])
        return response


@admin.register(models.Assignment)
class AssignmentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "role", "unit")
    raw_id_fields = ("unit",)

    def get_readonly_fields(self, request: Any, obj: Any = None) -> tuple[str, ...]:
        return ("user",) if obj is not None else ()

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        from django.core.exceptions import PermissionDenied

        from popreg.registry.access import actor_for
        from popreg.registry.actions import do_assign_role
        from popreg.registry.errors import RegistryError

        try:
            saved = do_assign_role(actor_for(request.user), obj.user, obj.role, obj.unit_id)
        except RegistryError as err:
            raise PermissionDenied(err.message) from None
        obj.pk = saved.pk

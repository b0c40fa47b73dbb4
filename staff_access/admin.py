"""The staff access record and staff sign-in events, for the Privacy Officer: browse, filter,
search by staff member or by person, export as CSV. Read-only for everyone."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from allauth.mfa.admin import AuthenticatorAdmin
from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils import timezone

from privacy_site.admin_tools import ReadOnlyAdmin
from privacy_site.downloads import csv_download, spreadsheet_safe
from staff_access.models import StaffAccess, StaffSignInEvent
from staff_access.selectors import accesses_to
from staff_access.services import record_sign_in_event
from staff_access.sessions import end_other_sessions

CSV_HEADER = [
    "occurred_at",
    "staff",
    "role",
    "action",
    "page",
    "people",
    "person_ids",
    "fields",
    "search_term",
]


def _cell(value: str) -> str:
    """A cell a spreadsheet would run as a formula, defused with a leading apostrophe."""
    return spreadsheet_safe(value)


def access_csv_rows(rows: Iterable[StaffAccess]) -> Iterator[Sequence[object]]:
    yield CSV_HEADER
    for row in rows:
        yield [
            row.occurred_at.isoformat(),
            _cell(row.staff.email),
            _cell(row.role),
            row.action,
            row.page,
            row.subject_count,
            " ".join(str(pk) for pk in row.subject_ids),
            _cell(" ".join(row.fields)),
            _cell(row.search_term),
        ]


@admin.register(StaffAccess)
class StaffAccessAdmin(ReadOnlyAdmin):
    """Who looked at whose data: searched by a staff member's address (part of it) or by a
    person's exact address (every access naming them)."""

    list_display = (
        "occurred_at",
        "staff",
        "role",
        "action",
        "page",
        "subject_count",
        "field_list",
        "search_term",
    )
    list_filter = ("action", "role", "occurred_at")
    list_select_related = ("staff",)
    search_fields = ("staff__email",)
    date_hierarchy = "occurred_at"
    show_full_result_count = False
    actions = ["export_csv"]
    fields = readonly_fields = (
        "occurred_at",
        "staff",
        "role",
        "action",
        "page",
        "subject_count",
        "subject_ids",
        "fields",
        "search_term",
    )

    @admin.display(description="fields")
    def field_list(self, obj: StaffAccess) -> str:
        return ", ".join(obj.fields)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[StaffAccess], search_term: str
    ) -> tuple[QuerySet[StaffAccess], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        person = get_user_model().objects.filter(email__iexact=search_term.strip()).first()
        if person is not None and search_term.strip():
            naming = accesses_to(subject=person)
            if connection.vendor == "postgresql":
                results = queryset.filter(
                    Q(pk__in=results.values("pk")) | Q(subject_ids__contains=[person.pk])
                )
            else:
                results = results | queryset.filter(pk__in=naming.values("pk"))
        return results, may_have_duplicates

    @admin.action(description="Export the selected rows as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[StaffAccess]) -> HttpResponseBase:
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        rows = queryset.select_related("staff").order_by("-occurred_at", "-id")
        return csv_download(access_csv_rows(rows.iterator()), f"staff-access-{stamp}.csv")


@admin.register(StaffSignInEvent)
class StaffSignInEventAdmin(ReadOnlyAdmin):
    """Staff sign-in security: second factor, password, sessions ended or expired."""

    list_display = ("occurred_at", "staff", "kind", "detail")
    list_filter = ("kind", "occurred_at")
    list_select_related = ("staff",)
    search_fields = ("staff__email",)
    date_hierarchy = "occurred_at"
    fields = readonly_fields = ("occurred_at", "staff", "kind", "detail")


# --- Second factors removed by a superuser (a lost phone with no recovery code left) -----------

admin.site.unregister(Authenticator)


@admin.register(Authenticator)
class StaffAuthenticatorAdmin(AuthenticatorAdmin):
    """allauth's own admin of authenticators, where a superuser removes a lost phone's app. A
    removal here sends none of allauth's signals, so it is recorded as the staff member's own
    removal would be: a "Second factor removed" event, and their sessions ended (a thief's
    open session with it)."""

    def delete_model(self, request: HttpRequest, obj: Authenticator) -> None:
        super().delete_model(request, obj)
        _removed_in_admin(request, [obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Authenticator]) -> None:
        removed = list(queryset.select_related("user"))
        super().delete_queryset(request, queryset)
        _removed_in_admin(request, removed)


def _removed_in_admin(request: HttpRequest, removed: Iterable[Authenticator]) -> None:
    by = getattr(request.user, "email", "") or "a superuser"
    for authenticator in removed:
        user = authenticator.user
        if not user.is_staff:
            continue
        # Within the events' 200 characters, the session event's prefix included.
        what = f"{authenticator.get_type_display()}, removed in the admin by {by}"[:170]
        record_sign_in_event(
            staff=user, kind=StaffSignInEvent.Kind.SECOND_FACTOR_REMOVED, detail=what
        )
        end_other_sessions(None, user, why=f"Second factor removed: {what}")

"""Staff views of aggregate reports for suppliers: each report as it was given (its table and
its CSV file, byte for byte), the aggregate disclosures that record them, generating one on
demand (``sharing.generate_aggregatereport``), and the suppliers' own sites.

Reports and aggregate disclosures are written only by ``sharing.services.aggregate_reports``:
nobody changes or deletes one here.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from privacy_site.admin_tools import ReadOnlyAdmin, admin_path, adopt_saved, object_or_404
from privacy_site.auth_user import logged_in_user
from privacy_site.downloads import stored_csv_download
from sharing.order_models import OrderLine
from sharing.report_figures import COLUMNS
from sharing.report_models import AggregateDisclosure, AggregateReport, SupplierSite
from sharing.services.aggregate_reports import (
    GENERATE_PERMISSION,
    AggregateReportError,
    add_supplier_site,
    check_supplier_site,
    generate_supplier_report,
    last_month,
)


class GenerateForm(forms.Form):
    supplier = forms.ChoiceField(help_text="As the orders' lines spell it.")
    period_start = forms.DateField(
        label="First day", widget=forms.DateInput(attrs={"type": "date"})
    )
    period_end = forms.DateField(
        label="Last day",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Included; it must be before today.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        suppliers = OrderLine.objects.order_by("supplier").values_list("supplier", flat=True)
        field = self.fields["supplier"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(name, name) for name in suppliers.distinct()]


@admin.register(AggregateReport)
class AggregateReportAdmin(ReadOnlyAdmin):
    list_display = (
        "reference",
        "supplier",
        "period_start",
        "period_end",
        "trigger",
        "generated_by",
        "generated_at",
        "small_cells",
        "withheld_cells",
    )
    list_filter = ("trigger", "period_start")
    list_select_related = ("generated_by",)
    search_fields = ("supplier",)
    fields = readonly_fields = (
        "reference",
        "party",
        "supplier",
        "period_start",
        "period_end",
        "trigger",
        "generated_by",
        "generated_at",
        "small_cells",
        "withheld_cells",
        "sha256",
        "published_table",
    )
    change_form_template = "admin/sharing/aggregatereport/change_form.html"
    change_list_template = "admin/sharing/aggregatereport/change_list.html"

    @admin.display(description="reference")
    def reference(self, obj: AggregateReport) -> str:
        return obj.reference

    @admin.display(description="what it contained")
    def published_table(self, obj: AggregateReport) -> str:
        head = format_html_join("", '<th scope="col">{}</th>', ((c,) for c in obj.table["columns"]))
        body = format_html_join(
            "",
            '<tr><th scope="row">{}</th>{}</tr>',
            (
                (product, format_html_join("", "<td>{}</td>", ((cell,) for cell in cells)))
                for product, *cells in obj.table["rows"]
            ),
        )
        return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)

    def get_urls(self):
        return [
            admin_path(self, "generate/", self.generate_view, "generate"),
            admin_path(self, "<path:object_id>/csv/", self.csv_view, "csv"),
            *super().get_urls(),
        ]

    def may_generate(self, request: HttpRequest) -> bool:
        return request.user.has_perm(GENERATE_PERMISSION)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "may_generate": self.may_generate(request)}
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        csv_url = reverse("admin:sharing_aggregatereport_csv", args=(object_id,))
        extra_context = {**(extra_context or {}), "csv_url": csv_url}
        return super().change_view(request, object_id, form_url, extra_context)

    def csv_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = object_or_404(self, request, object_id)
        return stored_csv_download(report.csv, report.filename)

    def generate_view(self, request: HttpRequest) -> HttpResponse:
        if not self.may_generate(request):
            raise PermissionDenied
        start, end = last_month(timezone.localdate())
        form = GenerateForm(
            request.POST if request.method == "POST" else None,
            initial={"period_start": start, "period_end": end},
        )
        if form.is_valid():
            try:
                report = _generate(request, form.cleaned_data)
            except AggregateReportError as error:
                form.add_error(None, str(error))
            else:
                self.message_user(
                    request,
                    f"{report.reference} made and recorded as given to {report.party}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:sharing_aggregatereport_change", args=(report.pk,))
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Generate an aggregate report",
            "opts": self.opts,
            "form": form,
            "columns": COLUMNS,
        }
        return TemplateResponse(
            request,
            "admin/sharing/aggregatereport/generate.html",
            context,
            status=400 if form.errors else 200,
        )


def _generate(request: HttpRequest, data: dict[str, Any]) -> AggregateReport:
    start: date = data["period_start"]
    end: date = data["period_end"]
    return generate_supplier_report(
        supplier=data["supplier"], period_start=start, period_end=end, actor=logged_in_user(request)
    )


@admin.register(AggregateDisclosure)
class AggregateDisclosureAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "party", "reference", "actor")
    list_select_related = ("party", "actor")
    list_filter = ("party",)
    fields = readonly_fields = (
        "party",
        "purpose",
        "report",
        "reference",
        "description",
        "actor",
        "occurred_at",
    )


SITE_FIELDS = ("supplier", "host", "added_by", "added_at")


class SupplierSiteForm(forms.ModelForm):
    class Meta:
        model = SupplierSite
        fields = ("supplier", "host")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "supplier" in cleaned and "host" in cleaned:
            try:
                cleaned["supplier"], cleaned["host"] = check_supplier_site(
                    supplier=cleaned["supplier"], host=cleaned["host"]
                )
            except AggregateReportError as error:
                raise forms.ValidationError(str(error)) from error
        return cleaned


@admin.register(SupplierSite)
class SupplierSiteAdmin(admin.ModelAdmin):
    """Added through ``add_supplier_site`` (who and when recorded); removed with Django's
    delete, which the admin's history records; never changed (remove and add instead)."""

    list_display = ("supplier", "host", "added_by", "added_at")
    search_fields = ("supplier", "host")
    form = SupplierSiteForm

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: SupplierSite | None = None):
        return SITE_FIELDS if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: SupplierSite | None = None):
        return SITE_FIELDS if obj is not None else ("supplier", "host")

    def save_model(self, request, obj, form, change):
        saved = add_supplier_site(
            supplier=form.cleaned_data["supplier"],
            host=form.cleaned_data["host"],
            actor=logged_in_user(request),
        )
        adopt_saved(obj, saved)

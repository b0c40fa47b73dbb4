"""What a fulfilled legal request hands over: for each person in its scope, for each kind of data
asked for, what was held during the period asked about; nothing else.

The data of a kind lives in the app that keeps it, some of them above sharing (accounts keeps
names, addresses and phone numbers): each app offers its part as an *export source*, a
function of a person and a ``Period``, registered for a kind of data with
``register_export_source`` (accounts and surveys do so in their ``AppConfig.ready``).
Sharing registers its own: the consent ledger's decisions, and the orders the shop's checkout
sent (what was ordered, and the delivery names and addresses they carried). A kind no source
offers is listed under ``not_held`` rather than left out without a word.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone

from consent.models import ConsentEvent
from privacy_site.auth_user import AuthUser
from sharing.models import DataCategory
from sharing.order_models import Order

if TYPE_CHECKING:
    from sharing.legal_models import LegalRequest

EXPORT_FORMAT = "legal-request-export/1"


@dataclass(frozen=True)
class Period:
    """The days a request asks about, both included, in the site's time zone."""

    start: date
    end: date

    @property
    def starts_at(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def ends_before(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    def covers(self, moment: datetime | None) -> bool:
        return moment is not None and self.starts_at <= moment < self.ends_before


ExportSource = Callable[[AuthUser, Period], Any]
_SOURCES: dict[str, dict[str, ExportSource]] = {}


def register_export_source(*, category: str, name: str, source: ExportSource) -> None:
    """Offer ``source(person, period)`` (JSON-ready data: what was held about ``person`` of
    kind ``category`` during ``period``, and nothing of another kind or time) under ``name``."""
    if category not in DataCategory.values:
        raise ValueError(f"Unknown kind of data {category!r}.")
    _SOURCES.setdefault(category, {})[name] = source


def export_sources(category: str) -> dict[str, ExportSource]:
    return dict(_SOURCES.get(category, {}))


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def consent_decisions(person: AuthUser, period: Period) -> list[dict]:
    """The person's consent decisions recorded during the period (the ledger, which sharing
    may read: consent sits below it)."""
    events = (
        ConsentEvent.objects.filter(
            subject_id=person.pk,
            occurred_at__gte=period.starts_at,
            occurred_at__lt=period.ends_before,
        )
        .select_related("purpose", "policy_version")
        .order_by("occurred_at", "id")
    )
    return [
        {
            "purpose": event.purpose.name,
            "decision": "granted" if event.granted else "withdrawn",
            "how": event.get_source_display(),
            "when": _when(event.occurred_at),
            "policy_version": event.policy_version.number,
        }
        for event in events
    ]


register_export_source(
    category=DataCategory.ACCOUNT_RECORDS, name="consent_decisions", source=consent_decisions
)


def _orders(person: AuthUser, period: Period):
    """The person's orders received during the period, oldest first. An erased person's
    orders are no longer linked to them, so none are found."""
    return (
        Order.objects.filter(
            customer_id=person.pk,
            received_at__gte=period.starts_at,
            received_at__lt=period.ends_before,
        )
        .select_related("carrier")
        .prefetch_related("lines")
        .order_by("received_at", "id")
    )


def orders(person: AuthUser, period: Period) -> list[dict]:
    return [
        {
            "order": order.reference or "",
            "received": _when(order.received_at),
            "what": [
                {"product": line.product, "supplier": line.supplier, "quantity": line.quantity}
                for line in order.lines.all()
            ],
            "carrier": order.carrier.name if order.carrier else "",
            "referred_from": order.referring_site,
            "no_special_offers_box_ticked": order.marketing_opt_out,
        }
        for order in _orders(person, period)
    ]


def order_delivery_names(person: AuthUser, period: Period) -> list[dict]:
    return [
        {"name": order.delivery_name, "order": order.reference or "",
         "received": _when(order.received_at)}
        for order in _orders(person, period)
        if order.delivery_name
    ]  # fmt: skip


def order_delivery_addresses(person: AuthUser, period: Period) -> list[dict]:
    return [
        {
            "address_line_1": order.address_line_1,
            "address_line_2": order.address_line_2,
            "town": order.town,
            "postcode": order.postcode,
            "order": order.reference or "",
            "received": _when(order.received_at),
        }
        for order in _orders(person, period)
        if order.address_line_1 or order.postcode
    ]


register_export_source(category=DataCategory.ORDER_HISTORY, name="orders", source=orders)
register_export_source(
    category=DataCategory.NAME, name="order_delivery_names", source=order_delivery_names
)
register_export_source(
    category=DataCategory.POSTAL_ADDRESS,
    name="order_delivery_addresses",
    source=order_delivery_addresses,
)


def build_export(*, request: LegalRequest, people: list[AuthUser]) -> dict:
    """The export of ``request`` for ``people`` (its scope): JSON-ready."""
    period = Period(request.period_start, request.period_end)
    labels = dict(DataCategory.choices)
    categories = list(request.categories)
    return {
        "format": EXPORT_FORMAT,
        "controller": settings.SITE_NAME,
        "request": {
            "reference": request.reference,
            "authority": request.authority.name,
            "authority_reference": request.authority_reference,
            "kinds_of_data": [labels[value] for value in categories],
            "period": {"from": period.start.isoformat(), "to": period.end.isoformat()},
        },
        "generated_at": _when(timezone.now()),
        "not_held": [labels[value] for value in categories if not export_sources(value)],
        "people": [
            {
                "account": person.pk,
                "data": {
                    value: {
                        name: source(person, period)
                        for name, source in sorted(export_sources(value).items())
                    }
                    for value in categories
                    if export_sources(value)
                },
            }
            for person in people
        ],
    }

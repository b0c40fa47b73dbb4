"""A small shop with one of everything staff pages show, written through the services, and the
personal values in it that each role must never see.

One customer, Zephyrine Quillfeather, has a profile (home address, phone), consent decisions
with the browser's details, a cookie choice, a privacy request, an order delivered to an
address of its own (so Dispatch's address is told from the home address), the disclosures
the order made, a Jessops Photo membership, a legal request naming her, and a newsletter
delivery. Each role is a member of staff in that role's group and nothing else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import AuditSource, PrivacyRequest
from accounts.services import update_profile
from accounts.services.requests import log_privacy_request
from api_keys.models import Scope
from api_keys.services import issue_api_key
from consent.provenance import Provenance
from consent.services import ConsentSource, record_decisions
from consent.services.cookies import record_cookie_choice
from privacy_site.roles import (
    CUSTOMER_SUPPORT,
    DISPATCH,
    MARKETING,
    PRIVACY_OFFICER,
    STAFF_ROLES,
    WEB_SALES,
)
from retention.engine import run as retention_run
from retention.schedule import rule as schedule_rule
from retention.services import place_hold
from sharing.models import DataCategory, ThirdParty
from sharing.order_serializers import OrderRequestSerializer
from sharing.services import LegalScope, log_legal_request
from sharing.services.orders import take_order
from sharing.services.photo_service import join_photo_service
from tests.factories import CampaignFactory, SuperuserFactory, UserFactory

EMAIL = "zq7731@example.com"
FIRST, LAST = "Zephyrine", "Quillfeather"
PHONE = "07700 900461"
HOME = ("12 Larkspur Mews", "Harrogate", "HG1 2RE")
DELIVERY = ("88 Carrier Close", "Wetherby", "LS22 6RT")
IP, AGENT = "203.0.113.0", "WalkAgent/7.3"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

# What each kind of personal value looks like on a page.
VALUES = {
    "email": [EMAIL],
    "name": [FIRST, LAST],
    "phone": [PHONE, "7700900461"],  # as typed, and the digits of +447700900461 as stored
    "home address": list(HOME),
    "delivery address": list(DELIVERY),
    "browser details": [IP, AGENT],
}

# The kinds each role must never see, on any page or API answer.
NEVER_SEES = {
    CUSTOMER_SUPPORT: {"delivery address", "browser details"},
    WEB_SALES: {"home address", "delivery address", "browser details"},
    DISPATCH: {"email", "phone", "home address", "browser details"},
    MARKETING: {"email", "name", "phone", "home address", "delivery address", "browser details"},
    PRIVACY_OFFICER: set(),
    "no role": set(VALUES),
}


@dataclass
class World:
    customer: object
    superuser: object
    staff: dict[str, object] = field(default_factory=dict)
    order: object = None
    campaign: object = None


def forbidden_values(role: str) -> list[str]:
    return [value for kind in sorted(NEVER_SEES[role]) for value in VALUES[kind]]


def build_world() -> World:
    superuser = SuperuserFactory(email="root@jessops.example")
    staff = {
        role: UserFactory(
            email=f"{role.lower().replace(' ', '.')}@jessops.example",
            first_name="Staff",
            is_staff=True,
            roles=[role],
        )
        for role in STAFF_ROLES
    }
    staff["no role"] = UserFactory(email="nobody.staff@jessops.example", is_staff=True)
    customer = UserFactory(email=EMAIL, first_name=FIRST, last_name=LAST, verified=True)
    update_profile(
        user=customer,
        actor=customer,
        source=AuditSource.PROFILE_PAGE,
        address_line_1=HOME[0],
        town=HOME[1],
        postcode=HOME[2],
        phone=PHONE,
    )
    record_decisions(
        subject=customer,
        choices={"newsletter": True, "special_offers": True},
        source=ConsentSource.SIGNUP_FORM,
        provenance=Provenance(ip_address=IP, user_agent=AGENT),
    )
    record_cookie_choice(
        anonymous_id=uuid.uuid4(),
        user=customer,
        analytics=True,
        marketing=False,
        gpc=False,
        provenance=Provenance(ip_address=IP, user_agent=AGENT),
    )
    log_privacy_request(
        request_type=PrivacyRequest.Type.ACCESS,
        channel=PrivacyRequest.Channel.PHONE,
        received_on=timezone.localdate(),
        logged_by=staff[CUSTOMER_SUPPORT],
        subject=customer,
        details="Asked on the phone for a copy of their data.",
    )
    key, _ = issue_api_key(name="Checkout", scopes=[Scope.ORDERS_WRITE], actor=superuser)
    incoming = OrderRequestSerializer(
        data={
            "reference": "JS-WALK-1",
            "customer": {
                "email": EMAIL,
                "first_name": FIRST,
                "last_name": LAST,
                "address": {"line_1": DELIVERY[0], "town": DELIVERY[1], "postcode": DELIVERY[2]},
            },
            "lines": [{"product": "Tripod", "supplier": "Manfrotto", "quantity": 1}],
            "marketing_opt_out": False,
        }
    )
    incoming.is_valid(raise_exception=True)
    order = take_order(system=key, request=incoming.order_request()).order
    join_photo_service(person=customer)
    log_legal_request(
        authority=ThirdParty.objects.get(name="Courts and law enforcement"),
        authority_reference="CASE-77",
        description="Production order.",
        document=SimpleUploadedFile("order.pdf", PDF, content_type="application/pdf"),
        scope=LegalScope(
            people=[customer],
            categories=[DataCategory.POSTAL_ADDRESS],
            period_start=timezone.localdate() - timedelta(days=60),
            period_end=timezone.localdate() - timedelta(days=30),
        ),
        actor=staff[PRIVACY_OFFICER],
    )
    place_hold(
        person=customer,
        reason=f"Dispute raised by {FIRST} {LAST} over order JS-WALK-1.",
        ends_at=timezone.now() + timedelta(days=90),
        placed_by=staff[PRIVACY_OFFICER],
    )
    retention_run(schedule_rule("delivery_content"))
    campaign = CampaignFactory(started=True, actor=staff[MARKETING])
    return World(customer, superuser, staff, order, campaign)

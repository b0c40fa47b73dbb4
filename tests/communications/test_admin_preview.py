"""The campaign preview frames the email from an admin URL of its own, served under a policy
that lets the email's inline styles apply and nothing else run or load; refused to whoever the
campaign's page refuses."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from communications.models import Campaign
from communications.services import create_campaign
from tests.factories import with_second_factor

pytestmark = pytest.mark.django_db

PASSWORD = "a long test password"
EMAIL_POLICY = {
    "default-src 'none'",
    "style-src 'unsafe-inline'",
    "img-src 'self' data:",
    "script-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
    "frame-ancestors 'self'",
    "sandbox",
}


@pytest.fixture
def campaign() -> Campaign:
    return create_campaign(
        actor=None,
        name="Spring newsletter",
        kind="newsletter",
        subject_line="Spring is here",
        body="Hello {{ first_name }}, our **spring** lenses are in.",
    )


@pytest.fixture
def root_client(django_user_model) -> Client:
    client = Client()
    client.force_login(
        with_second_factor(
            django_user_model.objects.create_superuser("root@jessops.example", PASSWORD)
        )
    )
    return client


def email_url(campaign: Campaign) -> str:
    return f"/admin/communications/campaign/{campaign.pk}/preview/email/"


def page_url(campaign: Campaign) -> str:
    return f"/admin/communications/campaign/{campaign.pk}/preview/"


def directives(response) -> set[str]:
    return {part.strip() for part in response["Content-Security-Policy"].split(";")}


def logged_in(make_user, email: str, *codenames: str, is_staff: bool = True) -> Client:
    user = make_user(email, is_staff=is_staff)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="communications", codename__in=codenames)
    )
    client = Client()
    client.force_login(user)
    return client


def test_the_email_is_served_under_its_own_policy_framed_only_by_us(make_user, campaign):
    viewer = logged_in(make_user, "mia@jessops.example", "view_campaign")

    response = viewer.get(email_url(campaign))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert directives(response) == EMAIL_POLICY
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "no-store" in response["Cache-Control"]
    email = response.content.decode()
    assert "Hello Sam" in email and "<strong>spring</strong>" in email
    assert 'style="' in email  # the email's own inline styles, which this policy lets apply


def test_the_preview_page_may_frame_our_own_pages_and_nothing_else_changes(root_client, campaign):
    response = root_client.get(page_url(campaign))

    assert response.status_code == 200
    assert directives(response) == {
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "frame-src 'self'",
    }
    assert response["X-Frame-Options"] == "DENY"
    assert f'sandbox src="{email_url(campaign)}"' in response.content.decode()


def test_a_customer_is_sent_to_the_login_page(make_user, campaign):
    customer = logged_in(make_user, "ann@example.com", "view_campaign", is_staff=False)

    for url in (email_url(campaign), page_url(campaign)):
        response = customer.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_staff_without_the_campaign_view_permission_are_refused(make_user, campaign):
    clerk = logged_in(make_user, "clerk@jessops.example", "view_delivery", "view_suppression")

    email = clerk.get(email_url(campaign))
    page = clerk.get(page_url(campaign))
    change = clerk.get(f"/admin/communications/campaign/{campaign.pk}/change/")

    assert (email.status_code, page.status_code, change.status_code) == (403, 403, 403)
    assert "Hello Sam" not in email.content.decode()


def test_staff_who_may_change_campaigns_may_preview_them(make_user, campaign):
    editor = logged_in(make_user, "ed@jessops.example", "change_campaign")

    assert editor.get(email_url(campaign)).status_code == 200
    assert editor.get(page_url(campaign)).status_code == 200


def test_a_missing_campaign_is_not_found(root_client):
    response = root_client.get("/admin/communications/campaign/999999/preview/email/")

    assert response.status_code == 404

"""A policy publication is the record of who published a version, when, and what it started:
shown in admin to staff with the view permission, never added, changed or deleted there, by a
superuser either."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from communications.models import PolicyPublication
from communications.services.policy_changes import publish_policy_change
from consent.services import current_policy_version, save_policy_draft
from tests.factories import with_second_factor

pytestmark = pytest.mark.django_db

PASSWORD = "a long test password"
PUBLICATIONS = "/admin/communications/policypublication/"


@pytest.fixture
def officer(django_user_model):
    return with_second_factor(
        django_user_model.objects.create_superuser("officer@jessops.example", PASSWORD)
    )


@pytest.fixture
def publication(officer) -> PolicyPublication:
    draft = save_policy_draft(
        actor=officer,
        text=current_policy_version().text + "\n\nWe now keep order records for seven years.",
        summary="Order records kept for seven years.",
        change_type="practice_change",
    )
    return publish_policy_change(draft=draft, actor=officer)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_superuser_sees_the_record_without_a_save_button(officer, publication):
    page = client_for(officer).get(f"{PUBLICATIONS}{publication.pk}/change/")

    content = page.content.decode()
    assert page.status_code == 200
    assert "Version 2 published on /privacy/." in content
    assert 'name="_save"' not in content and 'name="_continue"' not in content
    assert 'name="started"' not in content
    assert "No email was sent for this publication." in content


def test_a_superuser_posting_the_change_page_is_refused_and_nothing_changes(officer, publication):
    before = PolicyPublication.objects.values().get()
    client = client_for(officer)

    response = client.post(
        f"{PUBLICATIONS}{publication.pk}/change/",
        {"started": "Nothing at all.", "site_notice": "", "_save": "Save"},
    )

    assert response.status_code == 403
    assert PolicyPublication.objects.values().get() == before


def test_nobody_adds_or_deletes_a_publication(officer, publication):
    client = client_for(officer)

    added = client.post(f"{PUBLICATIONS}add/", {"started": "Invented."})
    deleted = client.post(f"{PUBLICATIONS}{publication.pk}/delete/", {"post": "yes"})
    bulk = client.post(
        PUBLICATIONS,
        {"action": "delete_selected", "_selected_action": [publication.pk], "post": "yes"},
    )

    assert (added.status_code, deleted.status_code) == (403, 403)
    assert bulk.status_code in (200, 302)
    assert list(PolicyPublication.objects.all()) == [publication]


def test_staff_with_the_view_permission_see_it_and_others_are_refused(make_user, publication):
    reader = make_user("reader@jessops.example", is_staff=True)
    reader.user_permissions.set(Permission.objects.filter(codename="view_policypublication"))
    clerk = make_user("clerk@jessops.example", is_staff=True)

    assert client_for(reader).get(f"{PUBLICATIONS}{publication.pk}/change/").status_code == 200
    assert client_for(clerk).get(f"{PUBLICATIONS}{publication.pk}/change/").status_code == 403

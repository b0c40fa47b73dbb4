"""The consent admin: who sees what, the read-only ledger, immutable policy versions, CSV export."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.utils import timezone

from consent.models import (
    ConsentEvent,
    CookieConsent,
    CurrentConsent,
    PolicyVersion,
    Purpose,
    PurposeText,
)
from consent.provenance import Provenance
from consent.services import (
    ConsentError,
    ConsentSource,
    grant_consent,
    record_decisions,
    reword_purpose,
    withdraw_consent,
)
from tests.factories import StaffFactory
from tests.harness.http import logged_in

pytestmark = pytest.mark.django_db

LEDGER = "/admin/consent/consentevent/"
EXPORT = "/admin/consent/consentevent/export-csv/"
CHANGELISTS = [
    "/admin/consent/purpose/",
    "/admin/consent/policyversion/",
    LEDGER,
    "/admin/consent/currentconsent/",
    "/admin/consent/cookieconsent/",
]


def staff_client(email: str, *codenames: str) -> Client:
    """Staff holding these permissions, logged in."""
    return logged_in(StaffFactory(email=email, permissions=codenames))


@pytest.fixture
def ledger(make_user, superuser) -> dict[str, ConsentEvent]:
    """Ann granted then withdrew the newsletter; Bob granted special offers at the till."""
    ann, bob = make_user("ann@example.com"), make_user("bob@example.com")
    return {
        "ann_grant": grant_consent(
            subject=ann,
            purpose="newsletter",
            source=ConsentSource.SIGNUP_FORM,
            provenance=Provenance(ip_address="203.0.113.0", user_agent="Firefox"),
        ),
        "ann_withdraw": withdraw_consent(
            subject=ann, purpose="newsletter", source=ConsentSource.STAFF, actor=superuser
        ),
        "bob_grant": record_decisions(
            subject=bob,
            choices={"special_offers": True},
            source=ConsentSource.ORDER_FORM,
            legal_basis="soft_opt_in",
        )[0],
    }


def read_csv(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


# --- Changelists -------------------------------------------------------------------------------


@pytest.mark.parametrize("url", CHANGELISTS)
def test_a_superuser_sees_every_consent_changelist(root, ledger, url):
    assert root.get(url).status_code == 200


@pytest.mark.parametrize("url", CHANGELISTS)
def test_staff_without_permissions_are_refused_every_changelist(url):
    client = staff_client("temp@jessops.example")

    assert client.get(url).status_code == 403


def test_a_customer_is_sent_to_the_admin_login(make_user, ledger):
    client = logged_in(make_user("carol@example.com"))

    response = client.get(LEDGER)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_ledger_changelist_lists_who_what_how_and_under_which_version(root, ledger):
    content = root.get(LEDGER).content.decode()

    for text in ["ann@example.com", "bob@example.com", "Newsletter", "Order form", "Soft opt-in"]:
        assert text in content
    assert "Export CSV" in content
    assert "/admin/consent/consentevent/add/" not in content


def test_searching_the_ledger_by_email_finds_only_that_person(root, ledger):
    response = root.get(LEDGER, {"q": "ann@example"})

    assert response.status_code == 200
    rows = list(response.context["cl"].result_list)
    assert {e.pk for e in rows} == {ledger["ann_grant"].pk, ledger["ann_withdraw"].pk}
    assert "bob@example.com" not in response.content.decode()


def test_the_ledger_filters_by_purpose_granted_and_source(root, ledger):
    newsletter = Purpose.objects.get(code="newsletter")

    by_purpose = root.get(LEDGER, {"purpose__id__exact": newsletter.pk}).context["cl"]
    by_granted = root.get(LEDGER, {"granted__exact": "0"}).context["cl"]
    by_source = root.get(LEDGER, {"source__exact": "order_form"}).context["cl"]

    assert {e.pk for e in by_purpose.result_list} == {
        ledger["ann_grant"].pk,
        ledger["ann_withdraw"].pk,
    }
    assert [e.pk for e in by_granted.result_list] == [ledger["ann_withdraw"].pk]
    assert [e.pk for e in by_source.result_list] == [ledger["bob_grant"].pk]


def test_the_ledger_changelist_costs_the_same_queries_for_many_rows(
    root, make_user, django_assert_max_num_queries
):
    for i in range(30):
        user = make_user(f"many{i}@example.com")
        grant_consent(subject=user, purpose="newsletter", source=ConsentSource.STAFF, actor=user)

    with django_assert_max_num_queries(12):
        response = root.get(LEDGER)

    assert response.status_code == 200


# --- CSV export --------------------------------------------------------------------------------


def test_the_csv_export_streams_every_ledger_column(root, ledger, superuser):
    response = root.get(EXPORT)

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="consent-ledger-')
    rows = read_csv(response)
    assert [r["subject_email"] for r in rows] == [
        "bob@example.com",
        "ann@example.com",
        "ann@example.com",
    ]
    withdrawal, grant = rows[1], rows[2]
    assert grant == {
        "occurred_at": ledger["ann_grant"].occurred_at.isoformat(),
        "subject_email": "ann@example.com",
        "purpose": "newsletter",
        "granted": "true",
        "legal_basis": "consent",
        "source": "signup_form",
        "policy_version": "1",
        "wording": Purpose.objects.get(code="newsletter").wording,
        "actor_email": "",
        "ip_address": "203.0.113.0",
    }
    assert (withdrawal["granted"], withdrawal["source"]) == ("false", "staff")
    assert withdrawal["actor_email"] == superuser.email
    assert rows[0]["legal_basis"] == "soft_opt_in"


def test_the_csv_export_applies_the_changelist_search_and_filters(root, ledger):
    searched = read_csv(root.get(EXPORT, {"q": "ann@example.com"}))
    filtered = read_csv(root.get(EXPORT, {"q": "ann@example.com", "granted__exact": "1"}))

    assert {r["subject_email"] for r in searched} == {"ann@example.com"}
    assert len(searched) == 2
    assert [(r["subject_email"], r["granted"]) for r in filtered] == [("ann@example.com", "true")]


def test_the_changelist_export_link_carries_the_current_filters(root, ledger):
    content = root.get(LEDGER, {"q": "ann", "granted__exact": "1"}).content.decode()

    assert f'href="{EXPORT}?granted__exact=1&amp;q=ann"' in content


def test_a_formula_in_an_exported_cell_is_neutralised(root, make_user):
    tricky = make_user("=cmd@example.com")
    grant_consent(subject=tricky, purpose="newsletter", source=ConsentSource.API)

    rows = read_csv(root.get(EXPORT))

    assert rows[0]["subject_email"] == "'=cmd@example.com"


def test_an_unknown_filter_on_the_export_is_a_400(root, ledger):
    assert root.get(EXPORT, {"subject__password": "x"}).status_code == 400


def test_staff_without_the_view_permission_are_refused_the_csv(ledger):
    client = staff_client("temp@jessops.example", "view_purpose")

    response = client.get(EXPORT)

    assert response.status_code == 403
    assert not hasattr(response, "streaming_content")


def test_staff_with_only_the_view_permission_may_read_and_export_the_ledger(ledger):
    client = staff_client("auditor@jessops.example", "view_consentevent")

    assert client.get(LEDGER).status_code == 200
    assert len(read_csv(client.get(EXPORT))) == 3
    # ...and nothing else of the consent app
    assert client.get("/admin/consent/currentconsent/").status_code == 403


# --- Nobody changes the ledger through the admin -----------------------------------------------


def test_nobody_can_add_a_ledger_row_through_the_admin(root, ledger):
    assert root.get(f"{LEDGER}add/").status_code == 403
    assert root.post(f"{LEDGER}add/", {"granted": "on"}).status_code == 403
    assert ConsentEvent.objects.count() == 3


def test_a_ledger_row_is_shown_read_only_and_a_change_post_is_refused(root, ledger):
    event = ledger["ann_grant"]
    url = f"{LEDGER}{event.pk}/change/"

    page = root.get(url)
    refused = root.post(url, {"granted": "", "source": "api", "wording": "Something else"})

    assert page.status_code == 200
    assert 'name="wording"' not in page.content.decode()
    assert refused.status_code == 403
    event.refresh_from_db()
    assert (event.granted, event.source) == (True, "signup_form")
    assert event.wording.startswith("Send me the Jessops newsletter")


def test_a_ledger_row_cannot_be_deleted_through_the_admin(root, ledger):
    event = ledger["ann_grant"]

    assert root.get(f"{LEDGER}{event.pk}/delete/").status_code == 403
    assert root.post(f"{LEDGER}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    root.post(LEDGER, {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"})

    assert ConsentEvent.objects.filter(pk=event.pk).exists()


def test_the_current_table_is_read_only_in_the_admin(root, ledger):
    row = CurrentConsent.objects.get(event=ledger["bob_grant"])
    url = f"/admin/consent/currentconsent/{row.pk}/"

    assert root.get(f"{url}change/").status_code == 200
    assert root.post(f"{url}change/", {"granted": ""}).status_code == 403
    assert root.post(f"{url}delete/", {"post": "yes"}).status_code == 403
    assert root.get("/admin/consent/currentconsent/add/").status_code == 403
    row.refresh_from_db()
    assert row.granted is True


def test_the_cookie_choice_log_is_read_only_in_the_admin(root):
    # A plain insert, as the cookie service writes it: the admin must not change it.
    choice = CookieConsent.objects.create(
        analytics=True,
        policy_version=PolicyVersion.objects.get(number=1),
        created_at=timezone.now(),
    )
    url = f"/admin/consent/cookieconsent/{choice.pk}/"

    assert root.get("/admin/consent/cookieconsent/").status_code == 200
    assert root.get(f"{url}change/").status_code == 200
    assert root.post(f"{url}change/", {"analytics": ""}).status_code == 403
    assert root.post(f"{url}delete/", {"post": "yes"}).status_code == 403
    assert root.get("/admin/consent/cookieconsent/add/").status_code == 403
    choice.refresh_from_db()
    assert choice.analytics is True


# --- Purposes ----------------------------------------------------------------------------------


# The words' history is shown as a read-only inline: its management form comes back too.
TEXT_INLINE = {
    "texts-TOTAL_FORMS": "0",
    "texts-INITIAL_FORMS": "0",
    "texts-MIN_NUM_FORMS": "0",
    "texts-MAX_NUM_FORMS": "0",
}


def purpose_form(purpose: Purpose, **changes) -> dict:
    data = {
        "code": purpose.code,
        "name": purpose.name,
        "wording": purpose.wording,
        "is_optional": "on" if purpose.is_optional else "",
        "mandatory_reason": purpose.mandatory_reason,
        "introduced_in": purpose.introduced_in_id,
        "display_order": purpose.display_order,
    }
    data.update(changes)
    return data


def test_the_change_form_edits_only_the_display_order_never_the_words(root):
    purpose = Purpose.objects.get(code="newsletter")
    before = (purpose.code, purpose.name, purpose.wording, purpose.is_optional)

    page = root.get(f"/admin/consent/purpose/{purpose.pk}/change/").content.decode()
    response = root.post(
        f"/admin/consent/purpose/{purpose.pk}/change/",
        purpose_form(
            purpose,
            code="renamed",
            name="The Newsletter",
            wording="We may email you anything, any time.",
            is_optional="",
            mandatory_reason="Because.",
            display_order=7,
            **TEXT_INLINE,
        ),
    )

    assert 'name="wording"' not in page and 'name="name"' not in page
    assert response.status_code == 302
    purpose.refresh_from_db()
    assert (purpose.code, purpose.name, purpose.wording, purpose.is_optional) == before
    assert purpose.display_order == 7
    assert not PurposeText.objects.filter(purpose=purpose, changed_by__isnull=False).exists()


def test_new_words_go_through_the_service_and_keep_the_old_ones(root, superuser, make_user):
    purpose = Purpose.objects.get(code="newsletter")
    old_wording = purpose.wording
    ann = make_user("ann@example.com")
    earlier = grant_consent(subject=ann, purpose="newsletter", source=ConsentSource.SIGNUP_FORM)
    url = f"/admin/consent/purpose/{purpose.pk}/reword/"

    assert url in root.get(f"/admin/consent/purpose/{purpose.pk}/change/").content.decode()
    assert root.get(url).status_code == 200
    response = root.post(
        url,
        {
            "name": "Newsletter",
            "wording": "Our monthly newsletter: new cameras, lenses and workshops.",
            "mandatory_reason": "",
            "reason": "Plainer words, same use.",
        },
    )

    assert response.status_code == 302
    purpose.refresh_from_db()
    assert purpose.wording == "Our monthly newsletter: new cameras, lenses and workshops."
    text = PurposeText.objects.filter(purpose=purpose).order_by("-id").first()
    assert (text.wording, text.reason, text.changed_by) == (
        purpose.wording,
        "Plainer words, same use.",
        superuser,
    )
    assert text.policy_version == PolicyVersion.objects.get(is_current=True)
    earlier.refresh_from_db()
    assert earlier.wording == old_wording
    withdraw_consent(subject=ann, purpose="newsletter", source=ConsentSource.PREFERENCE_CENTRE)
    assert ConsentEvent.objects.order_by("-id").first().wording == purpose.wording


def test_new_words_need_a_reason_and_change_nothing_without_one(root):
    purpose = Purpose.objects.get(code="newsletter")
    before = purpose.wording

    response = root.post(
        f"/admin/consent/purpose/{purpose.pk}/reword/",
        {"name": "Newsletter", "wording": "Something else.", "reason": ""},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    purpose.refresh_from_db()
    assert purpose.wording == before


def test_staff_without_the_change_permission_cannot_change_the_words():
    client = staff_client("temp@jessops.example", "view_purpose")
    purpose = Purpose.objects.get(code="newsletter")
    url = f"/admin/consent/purpose/{purpose.pk}/reword/"

    assert url not in client.get(f"/admin/consent/purpose/{purpose.pk}/change/").content.decode()
    assert client.get(url).status_code == 403
    response = client.post(url, {"name": "N", "wording": "Hacked.", "reason": "Because."})

    assert response.status_code == 403
    purpose.refresh_from_db()
    assert purpose.wording != "Hacked."


def test_the_reword_service_refuses_a_customer(make_user):
    purpose = Purpose.objects.get(code="newsletter")

    with pytest.raises(ConsentError):
        reword_purpose(
            purpose=purpose,
            name="Newsletter",
            wording="Hacked.",
            mandatory_reason="",
            reason="Because.",
            actor=make_user("mallory@example.com"),
        )

    purpose.refresh_from_db()
    assert purpose.wording != "Hacked."


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_the_database_refuses_to_rewrite_old_words(superuser):
    purpose = Purpose.objects.get(code="surveys")
    reword_purpose(
        purpose=purpose,
        name=purpose.name,
        wording="Surveys and contests, now and then.",
        mandatory_reason="",
        reason="Shorter.",
        actor=superuser,
    )

    with pytest.raises(DatabaseError), transaction.atomic():
        PurposeText.objects.update(wording="Rewritten history.")
    with pytest.raises(DatabaseError), transaction.atomic():
        PurposeText.objects.all().delete()


def test_a_new_purpose_is_added_with_its_first_words_recorded(root, superuser):
    template = Purpose.objects.get(code="surveys")

    response = root.post(
        "/admin/consent/purpose/add/",
        purpose_form(template, code="sms_offers", name="Offers by text message"),
    )

    assert response.status_code == 302
    created = Purpose.objects.get(code="sms_offers", name="Offers by text message")
    text = PurposeText.objects.get(purpose=created)
    assert (text.wording, text.changed_by) == (template.wording, superuser)


def test_a_mandatory_purpose_needs_its_reason(root):
    template = Purpose.objects.get(code="surveys")

    response = root.post(
        "/admin/consent/purpose/add/",
        purpose_form(template, code="notices", is_optional="", mandatory_reason=""),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["mandatory_reason"]
    assert not Purpose.objects.filter(code="notices").exists()


def test_a_purpose_cannot_be_deleted(root):
    purpose = Purpose.objects.get(code="surveys")

    deleted = root.post(f"/admin/consent/purpose/{purpose.pk}/delete/", {"post": "yes"})

    assert deleted.status_code == 403
    assert root.get(f"/admin/consent/purpose/{purpose.pk}/delete/").status_code == 403
    assert Purpose.objects.filter(pk=purpose.pk).exists()


def test_staff_without_permission_cannot_change_a_purpose():
    client = staff_client("temp@jessops.example", "view_purpose")
    purpose = Purpose.objects.get(code="newsletter")

    response = client.post(
        f"/admin/consent/purpose/{purpose.pk}/change/", purpose_form(purpose, name="Hacked")
    )

    assert response.status_code == 403
    purpose.refresh_from_db()
    assert purpose.name == "Newsletter"


# --- Policy versions ---------------------------------------------------------------------------


def test_a_published_policy_version_cannot_be_changed_or_deleted(root):
    version = PolicyVersion.objects.get(number=1)
    url = f"/admin/consent/policyversion/{version.pk}/"
    before = (version.text, version.summary, version.effective_date, version.change_type)

    page = root.get(f"{url}change/")
    changed = root.post(
        f"{url}change/",
        {
            "text": "Rewritten.",
            "summary": "x",
            "change_type": "use_change",
            "effective_date": "2020-01-01",
        },
    )
    deleted = root.post(f"{url}delete/", {"post": "yes"})

    assert page.status_code == 200
    assert 'name="text"' not in page.content.decode()
    assert changed.status_code == 403
    assert deleted.status_code == 403
    version.refresh_from_db()
    assert (version.text, version.summary, version.effective_date, version.change_type) == before


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_old_add_a_policy_version_path_is_refused(root, method):
    # Publishing here would start no notice: versions are published from drafts instead.
    response = getattr(root, method)(
        "/admin/consent/policyversion/add/",
        {
            "text": "Version two of the policy.",
            "summary": "We now use CEWE for photo printing.",
            "change_type": "practice_change",
            "effective_date": "2026-06-01",
        },
    )

    assert response.status_code == 403
    assert list(PolicyVersion.objects.values_list("number", "is_current")) == [(1, True)]


def test_the_policy_version_list_offers_a_draft_instead_of_an_add_button(root):
    page = root.get("/admin/consent/policyversion/").content.decode()

    assert "/admin/consent/policyversion/add/" not in page
    assert 'href="/admin/consent/policydraft/add/"' in page


def test_staff_with_every_policy_version_permission_still_cannot_add_one():
    client = staff_client(
        "temp@jessops.example",
        "view_policyversion",
        "add_policyversion",
        "change_policyversion",
        "delete_policyversion",
    )
    version = PolicyVersion.objects.get(number=1)

    added = client.post(
        "/admin/consent/policyversion/add/",
        {"text": "v2", "summary": "s", "change_type": "editorial", "effective_date": "2026-06-01"},
    )
    changed = client.post(
        f"/admin/consent/policyversion/{version.pk}/change/",
        {"text": "v1, rewritten", "summary": "s", "change_type": "editorial"},
    )

    assert (added.status_code, changed.status_code) == (403, 403)
    assert client.get(f"/admin/consent/policyversion/{version.pk}/change/").status_code == 200
    assert PolicyVersion.objects.count() == 1
    version.refresh_from_db()
    assert version.text != "v1, rewritten"

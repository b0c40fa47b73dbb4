"""The register of third parties: seeded from the policy, changed only by permitted staff
through the services and the admin, every change recorded with who, when, why and what."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.db import DatabaseError, IntegrityError, connection, transaction

from consent.models import Purpose
from sharing.models import DataCategory, DisclosurePurpose, Role, ThirdParty, ThirdPartyChange
from sharing.services import (
    PartyDetails,
    RegisterError,
    change_third_party,
    register_third_party,
)
from tests.sharing.conftest import (
    ADVERTISERS,
    BANK,
    CEWE,
    COURTS,
    PARCELFORCE,
    SPONSORS,
    party,
    staff_client,
)

pytestmark = pytest.mark.django_db
REGISTER = "/admin/sharing/thirdparty/"


def carrier(**overrides) -> PartyDetails:
    fields = {
        "name": "DPD",
        "role": Role.PROCESSOR,
        "purposes": [DisclosurePurpose.DELIVERY],
        "purpose_description": "Delivers parcels.",
        "categories": [DataCategory.NAME, DataCategory.POSTAL_ADDRESS],
        "retention_promise": "Deletes delivery data 90 days after delivery.",
        "active_from": date(2026, 3, 1),
        "contract_reference": "DPD-2026-01",
        "notification_email": "privacy@dpd.example",
        **overrides,
    }
    return PartyDetails(**fields)


def staff_with(make_user, email: str, *codenames: str):
    user = make_user(email, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="sharing", codename__in=codenames)
    )
    return user


# --- Seeded from the policy --------------------------------------------------------------------


def test_the_register_starts_with_the_parties_the_policy_names():
    parties = {p.name: p for p in ThirdParty.objects.prefetch_related("consent_purposes")}

    assert set(parties) == {
        BANK,
        PARCELFORCE,
        "Our other parcel carriers",
        CEWE,
        SPONSORS,
        ADVERTISERS,
        COURTS,
    }
    # The bank and the carriers: name and address, for payment and delivery, nothing kept.
    for name in (BANK, PARCELFORCE, "Our other parcel carriers"):
        assert parties[name].role == Role.PROCESSOR
        assert parties[name].categories == ["name", "postal_address"]
        assert "secondary purpose" in parties[name].retention_promise
    assert parties[BANK].purposes == ["card_authorisation"]
    assert parties[PARCELFORCE].purposes == ["delivery"]
    # CEWE and the sponsors are tied to the consent purposes whose words name them.
    assert [p.code for p in parties[CEWE].consent_purposes.all()] == [Purpose.PARTNER_PHOTO]
    assert parties[CEWE].purposes == ["photo_service"]
    assert [p.code for p in parties[SPONSORS].consent_purposes.all()] == [Purpose.SURVEYS]
    assert parties[SPONSORS].purposes == ["prize_award"]
    # Suppliers and advertisers get aggregate figures only: no kind of personal data.
    assert parties[ADVERTISERS].role == Role.AGGREGATE_ONLY
    assert parties[ADVERTISERS].categories == []
    assert parties[COURTS].role == Role.PUBLIC_AUTHORITY
    assert parties[COURTS].purposes == ["legal_obligation"]
    for seeded in parties.values():
        assert seeded.active_from == date(2026, 1, 1)
        assert seeded.active_until is None


def test_each_seeded_party_has_its_registration_in_the_change_log():
    changes = ThirdPartyChange.objects.select_related("party")

    assert changes.count() == ThirdParty.objects.count()
    for change in changes:
        assert change.kind == ThirdPartyChange.Kind.REGISTERED
        assert change.changed_by is None
        assert change.reason == "Named in privacy policy version 1."
        assert change.after["name"] == change.party.name
        assert change.after["categories"] == change.party.categories


# --- Services ----------------------------------------------------------------------------------


def test_registering_a_party_records_every_detail_who_and_why(officer):
    photo = Purpose.objects.get(code=Purpose.PARTNER_PHOTO)

    dpd = register_third_party(
        details=carrier(consent_purposes=[photo]), actor=officer, reason="New carrier contract."
    )

    change = ThirdPartyChange.objects.get(party=dpd)
    assert change.kind == ThirdPartyChange.Kind.REGISTERED
    assert change.changed_by == officer
    assert change.reason == "New carrier contract."
    assert change.before == {}
    assert change.after["name"] == "DPD"
    assert change.after["consent_purposes"] == [Purpose.PARTNER_PHOTO]
    assert change.after["active_from"] == "2026-03-01"
    assert change.after["active_until"] is None
    assert list(dpd.consent_purposes.all()) == [photo]


def test_a_change_records_only_the_fields_that_changed_before_and_after(officer):
    dpd = register_third_party(details=carrier(), actor=officer, reason="New contract.")

    change = change_third_party(
        party=dpd,
        details=carrier(
            categories=[DataCategory.NAME, DataCategory.POSTAL_ADDRESS, DataCategory.PHONE],
            active_until=date(2026, 12, 31),
        ),
        actor=officer,
        reason="Drivers phone before delivery; contract ends this year.",
    )

    assert change.kind == ThirdPartyChange.Kind.CHANGED
    assert change.before == {"categories": ["name", "postal_address"], "active_until": None}
    assert change.after == {
        "categories": ["name", "postal_address", "phone"],
        "active_until": "2026-12-31",
    }
    dpd.refresh_from_db()
    assert dpd.categories == ["name", "postal_address", "phone"]
    assert dpd.active_until == date(2026, 12, 31)


@pytest.mark.parametrize("name", [BANK, PARCELFORCE, CEWE, SPONSORS, ADVERTISERS, COURTS])
def test_saving_a_seeded_party_unchanged_records_nothing(officer, name):
    seeded = party(name)

    change = change_third_party(
        party=seeded, details=PartyDetails.of(seeded), actor=officer, reason="Checked."
    )

    assert change is None
    assert ThirdPartyChange.objects.filter(party=seeded).count() == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "  "}, "needs a name"),
        ({"name": "parcelforce"}, "is in the register already"),
        ({"purposes": []}, "at least one purpose"),
        ({"purposes": ["profiling"]}, "Unknown purpose: profiling"),
        ({"categories": ["shoe_size"]}, "Unknown kind of data: shoe_size"),
        ({"categories": []}, "kinds of personal data the party may receive"),
        ({"role": Role.AGGREGATE_ONLY}, "never receives personal data"),
        ({"role": "friend"}, "Unknown role"),
        ({"retention_promise": " "}, "keeping the data"),
        ({"active_until": date(2026, 2, 1)}, "can't be before the first"),
        ({"notification_url": "http://dpd.example/notices"}, "https:// URL"),
        ({"notification_email": "not an address"}, "not an email address"),
    ],
)
def test_a_bad_entry_is_refused_and_nothing_written(officer, overrides, message):
    before = (ThirdParty.objects.count(), ThirdPartyChange.objects.count())

    with pytest.raises(RegisterError, match=message):
        register_third_party(details=carrier(**overrides), actor=officer, reason="New.")

    assert (ThirdParty.objects.count(), ThirdPartyChange.objects.count()) == before


def test_a_change_needs_a_reason(officer):
    bank = party(BANK)

    with pytest.raises(RegisterError, match="Say why"):
        change_third_party(
            party=bank,
            details=replace(PartyDetails.of(bank), contract_reference="BANK-1"),
            actor=officer,
            reason=" ",
        )


def test_staff_without_the_permission_cannot_change_the_register_through_the_service(make_user):
    viewer = staff_with(make_user, "viewer@jessops.example", "view_thirdparty")
    bank = party(BANK)

    with pytest.raises(RegisterError, match="permission"):
        change_third_party(
            party=bank,
            details=replace(PartyDetails.of(bank), contract_reference="BANK-1"),
            actor=viewer,
            reason="Contract signed.",
        )
    with pytest.raises(RegisterError, match="permission"):
        register_third_party(details=carrier(), actor=viewer, reason="New.")

    bank.refresh_from_db()
    assert bank.contract_reference == ""
    assert not ThirdParty.objects.filter(name="DPD").exists()


def test_the_database_refuses_personal_data_kinds_for_an_aggregate_only_party():
    with pytest.raises(IntegrityError), transaction.atomic():
        ThirdParty.objects.filter(name=ADVERTISERS).update(categories=["name"])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE sharing_thirdpartychange SET reason = 'rewritten' WHERE id = %s",
        "DELETE FROM sharing_thirdpartychange WHERE id = %s",
    ],
)
def test_the_database_refuses_to_rewrite_the_change_log(statement):
    change = ThirdPartyChange.objects.first()

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [change.pk])

    change.refresh_from_db()
    assert change.reason == "Named in privacy policy version 1."


# --- Admin -------------------------------------------------------------------------------------


def form_data(target: ThirdParty, **overrides) -> dict:
    data = {
        "name": target.name,
        "role": target.role,
        "purposes": list(target.purposes),
        "purpose_description": target.purpose_description,
        "consent_purposes": [str(p.pk) for p in target.consent_purposes.all()],
        "categories": list(target.categories),
        "retention_promise": target.retention_promise,
        "contract_reference": target.contract_reference,
        "privacy_contact": target.privacy_contact,
        "notification_email": target.notification_email,
        "notification_url": target.notification_url,
        "active_from": target.active_from.isoformat(),
        "active_until": target.active_until.isoformat() if target.active_until else "",
        "reason": "",
        # The read-only change-log inline's management form.
        "changes-TOTAL_FORMS": "0",
        "changes-INITIAL_FORMS": "0",
        "changes-MIN_NUM_FORMS": "0",
        "changes-MAX_NUM_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_staff_change_a_party_in_the_admin_and_the_change_is_recorded(make_user):
    editor = staff_with(make_user, "editor@jessops.example", "view_thirdparty", "change_thirdparty")
    bank = party(BANK)
    url = f"{REGISTER}{bank.pk}/change/"

    response = staff_client(editor).post(
        url,
        form_data(
            bank,
            contract_reference="BANK-2026-7",
            notification_email="dpo@bank.example",
            reason="Contract renewed.",
        ),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    bank.refresh_from_db()
    assert bank.contract_reference == "BANK-2026-7"
    change = ThirdPartyChange.objects.filter(party=bank).first()
    assert change.kind == ThirdPartyChange.Kind.CHANGED
    assert change.changed_by == editor
    assert change.reason == "Contract renewed."
    assert change.before == {"contract_reference": "", "notification_email": ""}
    assert change.after == {
        "contract_reference": "BANK-2026-7",
        "notification_email": "dpo@bank.example",
    }
    # and the change log shows on the party's page
    page = staff_client(editor).get(url).content.decode()
    assert "Contract renewed." in page


def test_staff_add_a_party_in_the_admin_with_the_registration_recorded(make_user):
    editor = staff_with(make_user, "editor@jessops.example", "view_thirdparty", "add_thirdparty")
    sponsors = party(SPONSORS)
    data = form_data(
        sponsors,
        name="Canon UK (contest sponsor)",
        reason="Sponsors the autumn contest.",
    )
    data.pop("changes-TOTAL_FORMS")  # no inline on the add page

    response = staff_client(editor).post(f"{REGISTER}add/", data)

    assert response.status_code == 302, response.content.decode()[:2000]
    added = ThirdParty.objects.get(name="Canon UK (contest sponsor)")
    change = ThirdPartyChange.objects.get(party=added)
    assert change.kind == ThirdPartyChange.Kind.REGISTERED
    assert change.changed_by == editor
    assert change.after["consent_purposes"] == [Purpose.SURVEYS]


def test_the_admin_form_refuses_a_bad_entry_with_the_rule_and_writes_nothing(make_user):
    editor = staff_with(make_user, "editor@jessops.example", "view_thirdparty", "change_thirdparty")
    advertisers = party(ADVERTISERS)

    response = staff_client(editor).post(
        f"{REGISTER}{advertisers.pk}/change/",
        form_data(advertisers, categories=["email"], reason="Send them addresses."),
    )

    assert response.status_code == 200
    assert "never receives personal data" in response.content.decode()
    advertisers.refresh_from_db()
    assert advertisers.categories == []
    assert ThirdPartyChange.objects.filter(party=advertisers).count() == 1


def test_the_admin_form_needs_a_reason(make_user):
    editor = staff_with(make_user, "editor@jessops.example", "view_thirdparty", "change_thirdparty")
    bank = party(BANK)

    response = staff_client(editor).post(
        f"{REGISTER}{bank.pk}/change/", form_data(bank, contract_reference="BANK-1")
    )

    assert response.status_code == 200
    assert ThirdPartyChange.objects.filter(party=bank).count() == 1


def test_staff_who_may_only_view_the_register_cannot_change_or_add(make_user):
    viewer = staff_with(make_user, "viewer@jessops.example", "view_thirdparty")
    bank = party(BANK)
    client = staff_client(viewer)

    assert client.get(REGISTER).status_code == 200
    changed = client.post(
        f"{REGISTER}{bank.pk}/change/",
        form_data(bank, contract_reference="BANK-1", reason="Trying."),
    )
    added = client.post(f"{REGISTER}add/", form_data(bank, name="Another bank", reason="Trying."))

    assert changed.status_code == 403
    assert added.status_code == 403
    bank.refresh_from_db()
    assert bank.contract_reference == ""
    assert ThirdPartyChange.objects.count() == ThirdParty.objects.count()


def test_staff_without_any_sharing_permission_do_not_see_the_register(make_user):
    clerk = staff_with(make_user, "clerk@jessops.example")

    assert staff_client(clerk).get(REGISTER).status_code == 403


def test_nobody_deletes_a_party_in_the_admin(superuser_client):
    bank = party(BANK)

    response = superuser_client.post(f"{REGISTER}{bank.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert ThirdParty.objects.filter(pk=bank.pk).exists()


def test_the_change_log_and_the_disclosure_log_are_read_only_in_the_admin(superuser_client):
    change = ThirdPartyChange.objects.first()

    assert superuser_client.get("/admin/sharing/thirdpartychange/").status_code == 200
    assert superuser_client.get("/admin/sharing/disclosure/").status_code == 200
    assert superuser_client.get("/admin/sharing/disclosure/add/").status_code == 403
    response = superuser_client.post(
        f"/admin/sharing/thirdpartychange/{change.pk}/change/", {"reason": "rewritten"}
    )
    assert response.status_code == 403
    change.refresh_from_db()
    assert change.reason == "Named in privacy policy version 1."

"""The notices in the admin: a row per party with its state, how, when and the result, read-only;
"mark notified (by post or phone)" records who and how, for staff holding that right only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from accounts.services import update_profile
from sharing.models import DisclosurePurpose
from sharing.notification_models import RecipientNotification
from tests.factories import set_up_second_factor
from tests.harness.http import text
from tests.sharing.conftest import BANK, PARCELFORCE, party, staff_client

pytestmark = pytest.mark.django_db
LIST = "/admin/sharing/recipientnotification/"
State = RecipientNotification.State


@pytest.fixture
def notices(make_user, disclose):
    """Ann's order 1001 went to the bank and Parcelforce; she moved."""
    ann = make_user("ann@example.com", first_name="Ann")
    disclose(ann, reference="order 1001")
    disclose(
        ann, reference="order 1001", party=party(PARCELFORCE), purpose=DisclosurePurpose.DELIVERY
    )
    update_profile(
        user=ann, actor=ann, address_line_1="2 New Street", town="Leeds", postcode="LS1 1AA"
    )
    return {notice.party.name: notice for notice in RecipientNotification.objects.all()}


def staff(django_user_model, email: str, *codenames: str):
    user = django_user_model.objects.create_user(email, "a long test password", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    set_up_second_factor(user)
    return user


def test_staff_who_may_view_see_each_notice_its_state_and_steps_read_only(
    notices, django_user_model
):
    viewer = staff(django_user_model, "viewer@jessops.example", "view_recipientnotification")
    client = staff_client(viewer)

    listing = client.get(LIST)
    assert listing.status_code == 200
    page = text(listing)
    assert BANK in page and PARCELFORCE in page
    assert "To notify" in page and "by staff (no address or endpoint)" in page
    # no bulk delete, and no right to mark them
    assert listing.context["action_form"] is None

    notice = notices[PARCELFORCE]
    detail = client.get(f"{LIST}{notice.pk}/change/")
    assert detail.status_code == 200
    page = text(detail)
    assert "order 1001" in page and "Postal address" in page
    assert "Created" in page  # the step
    assert "Save" not in page and "Delete" not in page
    assert client.get(f"{LIST}add/").status_code == 403
    assert client.post(f"{LIST}{notice.pk}/delete/", {"post": "yes"}).status_code == 403


def test_marking_notified_by_hand_records_who_how_and_what(notices, officer):
    client = staff_client(officer)
    bank = notices[BANK]
    selected = {"action": "mark_notified_by_hand", "_selected_action": [bank.pk]}

    # the action first asks how, showing the party's references to quote
    form = client.post(LIST, selected)
    assert form.status_code == 200
    assert "order 1001" in text(form) and "What was sent or said" in text(form)

    # a note is required
    missing = client.post(LIST, {**selected, "apply": "1", "method": "post", "note": ""})
    assert missing.status_code == 200
    bank.refresh_from_db()
    assert bank.state == State.TO_NOTIFY

    done = client.post(
        LIST, {**selected, "apply": "1", "method": "phone", "note": "Told Jo at the bank's DPO"}
    )
    assert done.status_code == 302
    bank.refresh_from_db()
    assert bank.state == State.NOTIFIED and bank.method == "phone"
    assert bank.notified_by == officer and bank.result == "Told Jo at the bank's DPO"
    step = bank.steps.get(kind="recorded_by_hand")
    assert step.actor == officer and step.detail.startswith("By phone")
    # and the staff access record has the change, naming whose notice it was
    from staff_access.models import StaffAccess

    change = StaffAccess.objects.filter(staff=officer, action="change").get()
    assert "method" in change.fields and change.subject_ids
    # the other notice is untouched
    assert RecipientNotification.objects.get(pk=notices[PARCELFORCE].pk).state == State.TO_NOTIFY


def test_staff_without_the_right_cannot_mark_a_notice_notified(notices, django_user_model):
    viewer = staff(django_user_model, "viewer@jessops.example", "view_recipientnotification")
    bank = notices[BANK]

    response = staff_client(viewer).post(
        LIST,
        {
            "action": "mark_notified_by_hand",
            "_selected_action": [bank.pk],
            "apply": "1",
            "method": "post",
            "note": "Letter sent",
        },
    )

    assert response.status_code in (200, 302)
    bank.refresh_from_db()
    assert bank.state == State.TO_NOTIFY and bank.notified_by is None


def test_visitors_and_staff_without_the_view_right_see_no_notices(
    client, notices, django_user_model
):
    assert client.get(LIST).status_code == 302
    other = staff(django_user_model, "other@jessops.example", "view_thirdparty")
    assert staff_client(other).get(LIST).status_code == 403

"""The load test's prepared people are what the services would leave: run with the suite, so
the bulk SQL and the copied sessions keep up with the models between load test runs."""

from __future__ import annotations

import pytest
from django.test import Client

from consent.models import ConsentEvent, CurrentConsent, Purpose
from consent.selectors import consent_status
from tests.loadtest.subjects import log_in, seed_subjects, unsubscribe_paths


@pytest.mark.django_db
def test_seeded_subjects_hold_the_newsletter_and_offers_in_the_ledger_and_the_current_state(
    django_user_model,
):
    ids = seed_subjects(30)

    assert len(ids) == 30
    subject = django_user_model.objects.get(pk=ids[-1])
    status = consent_status(subject=subject)
    granted = {code for code, state in status.items() if state.granted and not state.mandatory}
    assert granted == {Purpose.NEWSLETTER, Purpose.SPECIAL_OFFERS}
    assert ConsentEvent.objects.filter(subject__in=ids).count() == 60
    assert CurrentConsent.objects.filter(subject__in=ids, granted=True).count() == 60
    assert subject.emailaddress_set.get().verified


@pytest.mark.django_db
def test_a_copied_session_opens_that_subjects_own_preference_centre(clean_cache):
    ids = seed_subjects(5)

    sessions = log_in(ids)

    for session in sessions[:1] + sessions[-1:]:
        client = Client(HTTP_COOKIE=session.cookie)
        response = client.get("/preferences/")
        assert response.status_code == 200
        assert session.email in response.text
        assert all(other.email not in response.text for other in sessions if other != session)


@pytest.mark.django_db
def test_a_prepared_one_click_unsubscribe_withdraws_the_newsletter():
    ids = seed_subjects(3)
    ((subject, path),) = unsubscribe_paths(ids[1:2])

    response = Client().post(path, {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    event = ConsentEvent.objects.get(subject=subject, source="one_click")
    assert (event.purpose.code, event.granted) == (Purpose.NEWSLETTER, False)

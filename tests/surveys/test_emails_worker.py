"""The emails of surveys and contests, sent by a real Celery worker to the SMTP server: the
invitation is a survey-invitation campaign that reaches only people holding the
surveys-and-contests purpose (the gate's rules: active, verified, not suppressed); a winner's
notification goes through the outbox to the winner alone."""

from __future__ import annotations

import time

import pytest

from communications.models import Campaign, Delivery, Suppression
from communications.services import send_campaign_now, suppress_address
from consent.models import Purpose
from consent.services import ConsentSource, withdraw_consent
from surveys.services import draw_winners, write_invitation
from tests.communications.campaigns import wait_until_completed
from tests.harness.smtp import SMTPServer
from tests.surveys.conftest import close_now, enter, make_contest, make_survey

pytestmark = [pytest.mark.worker, pytest.mark.smtp]


def test_the_invitation_reaches_only_people_holding_the_surveys_purpose(
    celery_worker, smtp: SMTPServer, make_user, author
):
    # given people with and without the surveys-and-contests purpose
    yes = [
        make_user(
            f"yes{n}@example.com", first_name=f"Yes{n}", verified=True, consents=[Purpose.SURVEYS]
        )
        for n in range(3)
    ]
    make_user("newsletter@example.com", verified=True, consents=[Purpose.NEWSLETTER])
    make_user("nothing@example.com", verified=True)
    withdrawn = make_user("withdrawn@example.com", verified=True, consents=[Purpose.SURVEYS])
    withdraw_consent(
        subject=withdrawn, purpose=Purpose.SURVEYS, source=ConsentSource.PREFERENCE_CENTRE
    )
    closed = make_user("closed@example.com", verified=True, consents=[Purpose.SURVEYS])
    closed.is_active = False
    closed.save(update_fields=["is_active"])
    bounced = make_user("bounced@example.com", verified=True, consents=[Purpose.SURVEYS])
    suppress_address(bounced.email, reason=Suppression.Reason.HARD_BOUNCE)
    make_user("unverified@example.com", verified=False, consents=[Purpose.SURVEYS])
    survey = make_survey(author)

    # when Marketing writes the invitation from the survey and sends it
    survey = write_invitation(survey=survey, actor=author)
    campaign = Campaign.objects.get(pk=survey.invitation_id)
    assert (campaign.kind, campaign.purpose.code) == ("survey_invitation", Purpose.SURVEYS)
    send_campaign_now(campaign=campaign)
    wait_until_completed(campaign)

    # then each holder of the purpose got one invitation linking to the survey, nobody else
    received = smtp.messages
    assert sorted(a for m in received for a in m.rcpt_tos) == sorted(p.email for p in yes)
    message = received[0]
    assert message.subject == "Take part: Checkout survey"
    assert f"/surveys/{survey.pk}/" in message.text()
    assert "Taking part is voluntary" in message.text()
    assert "List-Unsubscribe" in message.message


def test_a_winner_is_emailed_through_the_outbox(
    celery_worker, smtp: SMTPServer, make_user, author, sponsor
):
    contest = make_contest(author, sponsor)
    ann = make_user("ann@example.com", first_name="Ann", verified=True)
    enter(contest, ann)
    close_now(contest, author)

    draw_winners(survey=contest, actor=author)

    (message,) = smtp.wait_for(1)
    assert list(message.rcpt_tos) == ["ann@example.com"]
    assert message.subject == "You won: Win a camera"
    body = message.text()
    assert "Hello Ann" in body and "you won a Nikon Z50 in Win a camera" in body
    assert f"The prize comes from {sponsor.name}" in body
    assert "List-Unsubscribe" not in message.message  # transactional
    # the worker records the send after the server's answer: wait for it, so the test's end
    # (which empties the tables) never meets the worker's write
    deadline = time.monotonic() + 20
    while Delivery.objects.filter(to_email="ann@example.com", status="sent").count() != 1:
        assert time.monotonic() < deadline, list(Delivery.objects.values("kind", "status"))
        time.sleep(0.05)

"""Subjects are users: a newsletter-only subscriber can claim the account and keeps history."""

import re

from django.core import mail

from communications.models import Delivery
from communications.services import send_delivery
from consent.models import ConsentEvent, Purpose
from consent.selectors import consent_status
from tests.factories import NewsletterSubscriberFactory


def test_a_subscriber_without_a_password_claims_the_account_by_password_reset_and_keeps_history(
    client, db, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # given: a newsletter-only subscriber, who has no usable password
    subscriber = NewsletterSubscriberFactory(email="sub@customers.example")
    assert not subscriber.has_usable_password()

    # when: they ask for a password reset and follow the emailed link
    response = client.post("/accounts/password/reset/", {"email": "SUB@customers.example"})
    assert response.status_code == 302
    # (the email goes through the outbox; the test relays it itself)
    (delivery,) = Delivery.objects.filter(user=subscriber)
    send_delivery(delivery_id=delivery.pk)
    (message,) = mail.outbox
    link = re.search(r"https?://[^\s]+/accounts/password/reset/key/[^\s]+", message.body).group(0)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    response = client.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else link,
        {"password1": "a-Long-new-passphrase-42", "password2": "a-Long-new-passphrase-42"},
    )
    assert response.status_code == 302

    # then: the same user now has a password, and the consent history is intact
    subscriber.refresh_from_db()
    assert subscriber.check_password("a-Long-new-passphrase-42")
    assert consent_status(subject=subscriber)[Purpose.NEWSLETTER].granted
    assert ConsentEvent.objects.filter(subject=subscriber).count() == 1

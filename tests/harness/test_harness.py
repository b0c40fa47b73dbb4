"""The test harness works end to end: a real worker, a real SMTP server, a real browser."""

import pytest
from django.core.mail import send_mail

from privacy_site.celery import worker_health


@pytest.mark.worker
def test_a_task_is_run_by_the_worker_process_on_the_test_database(celery_worker, settings):
    # when
    result = worker_health.delay().get(timeout=30)
    # then: the answer came from another process, which uses the database this test uses
    assert result == {"database": "ok", "name": settings.DATABASES["default"]["NAME"]}


@pytest.mark.smtp
def test_a_mail_is_received_by_the_smtp_server(smtp):
    # when
    send_mail("Hello", "Plain body", "shop@jessops.example", ["ada@example.com"])
    # then
    (received,) = smtp.wait_for(1)
    assert received.rcpt_tos == ("ada@example.com",)
    assert received.subject == "Hello"
    assert received.text().strip() == "Plain body"


@pytest.mark.browser
def test_a_page_is_opened_in_the_browser(page, live_server):
    # when
    page.goto("/")
    # then: the page rendered and our own stylesheet was applied
    assert page.locator("h1").inner_text() == "Your data, your choice"
    header_colour = page.locator(".site-header").evaluate(
        "el => getComputedStyle(el).backgroundColor"
    )
    assert header_colour == "rgb(11, 79, 138)"

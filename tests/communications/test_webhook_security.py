"""Provider webhooks refuse what they cannot trust, and never answer 500.

- In production (``DJANGO_ENV=production``, checked in a fresh process on the real settings),
  a forged complaint changes nothing: no provider is served unless it is in use, and one in
  use without a secret refuses every request; ``check --deploy`` fails until it has one.
- The URL of a provider that is not in use answers 404; so does one whose key is missing.
- A body anymail cannot read, sent with valid credentials, answers 400 and records nothing;
  Amazon SES (boto3 installed) is served like any other provider.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import run_checks

from communications.models import ProviderEvent, Suppression
from consent.models import ConsentEvent

pytestmark = pytest.mark.filterwarnings(
    "ignore::anymail.exceptions.AnymailNotSupportedWarning",
    "ignore::anymail.exceptions.AnymailInsecureWebhookWarning",
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "anymail-webhook:" + "s3cr3t-" * 6
MAILGUN_KEY = "mailgun-webhook-signing-key"

POSTMARK_COMPLAINT = {
    "RecordType": "SpamComplaint",
    "ID": 901542551,
    "Type": "SpamComplaint",
    "TypeCode": 512,
    "Name": "Spam complaint",
    "MessageID": "2706ee8a-737c-4285-b032-ccd317af53ed",
    "ServerID": 1234,
    "Description": "",
    "Details": "Test spam complaint details",
    "Email": "victim@example.com",
    "From": "sender@example.com",
    "BouncedAt": "2016-04-27T16:28:50.3963933-04:00",
    "Inactive": True,
    "CanActivate": False,
    "Subject": "Postmark event test",
}


def basic_auth(credentials: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


# --- Production: the forged complaint of the security test ------------------------------------

# Runs in a fresh process on privacy_site.settings with DJANGO_ENV=production: a customer with
# marketing consent, then the anonymous (or differently authenticated) spam complaint, then
# whatever the request recorded is processed at once, as the worker would.
FORGE = r"""
import json, os
os.environ["DJANGO_SETTINGS_MODULE"] = "privacy_site.settings"
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from communications.models import ProviderEvent, Suppression
from communications.services import process_provider_event
from consent.models import ConsentEvent
from consent.services import ConsentSource, grant_consent

user = get_user_model().objects.create_user("victim@example.com", "a-long-test-password")
for purpose in ("newsletter", "special_offers"):
    grant_consent(subject=user, purpose=purpose, source=ConsentSource.SIGNUP_FORM)
headers = json.loads(os.environ["FORGE_HEADERS"])
response = Client(raise_request_exception=False).post(
    "/anymail/postmark/tracking/",
    data=os.environ["FORGE_BODY"],
    content_type="application/json",
    headers=headers,
    secure=True,
    HTTP_HOST="shop.example.com",
)
for event_id in ProviderEvent.objects.values_list("pk", flat=True):
    process_provider_event(event_id=event_id)
print(json.dumps({
    "status": response.status_code,
    "events": ProviderEvent.objects.count(),
    "suppressions": Suppression.objects.count(),
    "withdrawals": ConsentEvent.objects.filter(subject=user, granted=False).count(),
}))
"""

# What docker-compose.yml sets for the web process (no ANYMAIL, SMTP to Mailpit).
SHIPPED = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "mailpit"}
POSTMARK = {
    "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
    "ANYMAIL": json.dumps({"POSTMARK_SERVER_TOKEN": "server-token"}),
}
POSTMARK_WITH_SECRET = {
    "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
    "ANYMAIL": json.dumps({"POSTMARK_SERVER_TOKEN": "server-token", "WEBHOOK_SECRET": SECRET}),
}


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: os.environ[key] for key in ("PATH", "LANG", "LC_ALL", "TMPDIR") if key in os.environ
    }
    env.update(
        HOME=str(tmp_path),
        VAR_DIR=str(tmp_path / "var"),
        PYTHONDONTWRITEBYTECODE="1",
        DJANGO_SETTINGS_MODULE="privacy_site.settings",
        DJANGO_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="shop.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
    )
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


@pytest.fixture(scope="module")
def migrated_database(tmp_path_factory) -> Path:
    """One production database, migrated once; each test works on a copy."""
    where = tmp_path_factory.mktemp("production")
    result = run(["manage.py", "migrate", "--noinput"], production_env(where))
    assert result.returncode == 0, result.stdout + result.stderr
    return where / "prod.sqlite3"


def forge(migrated_database: Path, tmp_path: Path, settings: dict, auth: str | None) -> dict:
    shutil.copy(migrated_database, tmp_path / "prod.sqlite3")
    env = production_env(
        tmp_path,
        FORGE_BODY=json.dumps(POSTMARK_COMPLAINT),
        FORGE_HEADERS=json.dumps(basic_auth(auth) if auth else {}),
        **settings,
    )
    result = run(["-c", FORGE], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


NOTHING_CHANGED = {"events": 0, "suppressions": 0, "withdrawals": 0}


@pytest.mark.parametrize(
    ("settings", "auth", "status"),
    [
        (SHIPPED, None, 404),
        (POSTMARK, None, 404),
        (POSTMARK, SECRET, 404),
        (POSTMARK_WITH_SECRET, None, 400),
        (POSTMARK_WITH_SECRET, "anymail-webhook:guessed", 400),
    ],
    ids=[
        "as-shipped-anonymous",
        "postmark-without-secret-anonymous",
        "postmark-without-secret-any-credentials",
        "postmark-with-secret-anonymous",
        "postmark-with-secret-wrong-secret",
    ],
)
def test_in_production_a_forged_complaint_is_refused_and_changes_nothing(
    migrated_database, tmp_path, settings, auth, status
):
    outcome = forge(migrated_database, tmp_path, settings, auth)

    assert outcome == {"status": status, **NOTHING_CHANGED}


def test_in_production_the_provider_with_its_secret_is_heard(migrated_database, tmp_path):
    # The same probe, authenticated: what the refusals above would have changed.
    outcome = forge(migrated_database, tmp_path, POSTMARK_WITH_SECRET, SECRET)

    assert outcome == {"status": 200, "events": 1, "suppressions": 1, "withdrawals": 2}


def test_check_deploy_fails_while_a_served_webhook_has_no_secret(tmp_path):
    check = ["manage.py", "check", "--deploy", "--fail-level", "WARNING"]

    without = run(check, production_env(tmp_path, **POSTMARK))
    with_secret = run(check, production_env(tmp_path, **POSTMARK_WITH_SECRET))

    assert without.returncode != 0
    assert "communications.W001" in without.stdout + without.stderr
    assert "communications.W001" not in with_secret.stdout + with_secret.stderr


# --- Providers not in use ----------------------------------------------------------------------

EVERY_ANYMAIL_WEBHOOK = [
    "amazon_ses/inbound/",
    "amazon_ses/tracking/",
    "brevo/inbound/",
    "brevo/tracking/",
    "mailersend/inbound/",
    "mailersend/tracking/",
    "mailgun/inbound/",
    "mailgun/inbound_mime/",
    "mailgun/tracking/",
    "mailjet/inbound/",
    "mailjet/tracking/",
    "mailtrap/inbound/",
    "mailtrap/tracking/",
    "mandrill/",
    "mandrill/tracking/",
    "postal/inbound/",
    "postal/tracking/",
    "postmark/inbound/",
    "postmark/tracking/",
    "resend/inbound/",
    "resend/tracking/",
    "sendgrid/inbound/",
    "sendgrid/tracking/",
    "sendinblue/inbound/",
    "sendinblue/tracking/",
    "sparkpost/inbound/",
    "sparkpost/tracking/",
    "unisender_go/tracking/",
]


@pytest.fixture
def customer(make_user):
    return make_user("victim@example.com", consents=["newsletter"])


def assert_nothing_recorded() -> None:
    assert not ProviderEvent.objects.exists()
    assert not Suppression.objects.exists()
    assert not ConsentEvent.objects.filter(granted=False).exists()


@pytest.mark.parametrize("route", EVERY_ANYMAIL_WEBHOOK)
def test_no_provider_is_served_unless_it_is_in_use(client, customer, settings, route):
    # the local default: emails written to files, no provider
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}

    response = client.post(
        f"/anymail/{route}",
        data=json.dumps(POSTMARK_COMPLAINT),
        content_type="application/json",
        headers=basic_auth(SECRET),
    )

    assert response.status_code == 404
    assert_nothing_recorded()


@pytest.mark.parametrize(
    "route", [route for route in EVERY_ANYMAIL_WEBHOOK if not route.startswith("postmark/")]
)
def test_only_the_provider_in_use_is_served(client, customer, settings, route):
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "server-token", "WEBHOOK_SECRET": SECRET}

    for body, content_type in [(b"{}", "application/json"), (b"a=b", "multipart/form-data")]:
        response = client.generic(
            "POST", f"/anymail/{route}", body, content_type=content_type, headers=basic_auth(SECRET)
        )
        assert response.status_code == 404
    assert_nothing_recorded()


@pytest.mark.parametrize(
    ("provider", "route"),
    [("mailgun", "mailgun/tracking/"), ("postal", "postal/tracking/"), ("mandrill", "mandrill/")],
)
def test_a_provider_in_use_without_its_signing_key_answers_404(
    client, customer, settings, provider, route
):
    # basic auth set, the signing key the provider's view needs missing
    settings.EMAIL_WEBHOOK_PROVIDERS = [provider]
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}

    response = client.post(
        f"/anymail/{route}", data={"mandrill_events": "[]"}, headers=basic_auth(SECRET)
    )

    assert response.status_code == 404
    assert_nothing_recorded()


def test_a_provider_in_use_without_a_secret_refuses_everything(client, customer, settings):
    # outside production too: an unauthenticated webhook is never served
    settings.EMAIL_WEBHOOK_PROVIDERS = ["postmark"]
    settings.ANYMAIL = {}

    response = client.post(
        "/anymail/postmark/tracking/",
        data=json.dumps(POSTMARK_COMPLAINT),
        content_type="application/json",
    )

    assert response.status_code == 404
    assert_nothing_recorded()


# --- Bodies anymail cannot read ----------------------------------------------------------------

MALFORMED = {
    "open-brace": (b"{", "application/json"),
    "empty-list": (b"[]", "application/json"),
    "empty": (b"", "application/json"),
    "invalid-utf8": (b'\xff\xfe{"RecordType": "SpamComplaint"}', "application/json"),
    "form-data": (
        b"RecordType=SpamComplaint&Email=victim%40example.com",
        "application/x-www-form-urlencoded",
    ),
    "json-null": (b"null", "application/json"),
    "wrong-types": (
        b'{"RecordType": "SpamComplaint", "Email": ["victim@example.com"], "BouncedAt": 5}',
        "application/json",
    ),
    "broken-multipart": (
        b"--xx\r\nContent-Disposition: form-data",
        "multipart/form-data; boundary=xx",
    ),
}
SNS_HEADERS = {"x-amz-sns-message-type": "Notification", "x-amz-sns-message-id": "1"}


@pytest.fixture
def providers(settings):
    settings.EMAIL_WEBHOOK_PROVIDERS = ["postmark", "sendgrid", "mailgun", "amazon_ses"]
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}


@pytest.mark.parametrize("body", list(MALFORMED))
@pytest.mark.parametrize(
    "route",
    [
        "postmark/tracking/",
        "postmark/inbound/",
        "sendgrid/tracking/",
        "sendgrid/inbound/",
        "mailgun/tracking/",
        "mailgun/inbound/",
        "amazon_ses/tracking/",
        "amazon_ses/inbound/",
    ],
)
def test_a_body_anymail_cannot_read_answers_400_and_records_nothing(
    client, customer, providers, route, body
):
    data, content_type = MALFORMED[body]
    headers = {**basic_auth(SECRET), **(SNS_HEADERS if route.startswith("amazon_ses") else {})}

    response = client.generic(
        "POST", f"/anymail/{route}", data, content_type=content_type, headers=headers
    )

    # SendGrid posts a list of events: an empty one is a valid, empty batch.
    expected = 200 if (route, body) == ("sendgrid/tracking/", "empty-list") else 400
    assert response.status_code == expected
    assert_nothing_recorded()


def test_an_event_naming_an_impossible_address_records_nothing(client, customer, providers):
    complaint = {**POSTMARK_COMPLAINT, "Email": "x" * 300 + "@example.com", "MessageID": ""}

    response = client.post(
        "/anymail/postmark/tracking/",
        data=json.dumps(complaint),
        content_type="application/json",
        headers=basic_auth(SECRET),
    )

    assert response.status_code == 200
    assert_nothing_recorded()


# --- Amazon SES ---------------------------------------------------------------------------------


def test_amazon_ses_with_a_malformed_sns_body_answers_400(client, customer, providers):
    response = client.post(
        "/anymail/amazon_ses/tracking/",
        data='{"Type": "Notification", "MessageId": "1", "Message": "{not json',
        content_type="text/plain; charset=UTF-8",  # what SNS sends
        headers={**basic_auth(SECRET), **SNS_HEADERS},
    )

    assert response.status_code == 400
    assert_nothing_recorded()


def test_amazon_ses_inbound_with_s3_unreachable_answers_503_so_sns_retries(
    client, customer, providers, settings
):
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "AMAZON_SES_SESSION_PARAMS": {
            "aws_access_key_id": "AKIDEXAMPLE",
            "aws_secret_access_key": "secret",
            "region_name": "eu-west-1",
        },
        "AMAZON_SES_CLIENT_PARAMS": {
            # a closed port: the download fails at once
            "endpoint_url": "http://127.0.0.1:9",
            "config": {"retries": {"max_attempts": 1}, "connect_timeout": 1},
        },
    }
    received = {
        "notificationType": "Received",
        "mail": {"messageId": "inbound-1", "source": "victim@example.com"},
        "receipt": {
            "recipients": ["unsubscribe@jessops.example"],
            "action": {"type": "S3", "bucketName": "inbound", "objectKey": "inbound-1"},
        },
    }
    notification = {"Type": "Notification", "MessageId": "1", "Message": json.dumps(received)}

    response = client.post(
        "/anymail/amazon_ses/inbound/",
        data=json.dumps(notification),
        content_type="text/plain; charset=UTF-8",
        headers={**basic_auth(SECRET), **SNS_HEADERS},
    )

    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert_nothing_recorded()


# --- System checks ------------------------------------------------------------------------------


def check_ids() -> set[str]:
    return {message.id for message in run_checks()}


def test_the_checks_name_a_served_webhook_without_a_secret(settings):
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "server-token"}
    assert "communications.W001" in check_ids()

    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "server-token", "WEBHOOK_SECRET": SECRET}
    assert not {"communications.W001", "communications.W002"} & check_ids()


def test_a_provider_using_its_signature_needs_no_basic_auth(settings):
    settings.EMAIL_WEBHOOK_PROVIDERS = ["mailgun"]
    settings.ANYMAIL = {}
    assert "communications.W002" in check_ids()  # no signing key: it cannot be served

    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}
    assert not {"communications.W001", "communications.W002"} & check_ids()


def test_the_checks_name_an_unknown_provider(settings):
    settings.EMAIL_WEBHOOK_PROVIDERS = ["postmark", "post-mark"]
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}

    assert "communications.E002" in check_ids()

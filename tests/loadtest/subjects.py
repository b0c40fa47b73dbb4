"""The people the load test acts for: subjects inserted in bulk SQL, logged-in sessions for
some, signed one-click unsubscribe links for others.

The services would take far too long for 100,000 people; what is measured is the pages and
APIs, so the rows are written as the services would leave them: each subject with a verified
primary address, the newsletter and special offers granted (one ledger row each, from an
import) and the current-consent table agreeing row for row. Sessions are encoded as Django
logs a person in (the copy of a real login's session, for each subject's id) and copied into
the session table.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.test import Client
from django.utils import timezone

from communications.rendering import recipient_links
from consent.models import Purpose

DOMAIN = "loadtest.example"
GRANTED = [Purpose.NEWSLETTER, Purpose.SPECIAL_OFFERS]


def seed_subjects(count: int) -> list[int]:
    """Insert ``count`` subjects with their addresses and consents; their ids, in order."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO accounts_user (email, first_name, last_name, password, is_staff,
                                       is_superuser, is_active, date_joined)
            SELECT 'subject' || g || '@' || %s,
                   (ARRAY['Ann', 'Bob', 'Chloé', 'Dev', 'Eun-ji', ''])[1 + g %% 6],
                   'Subject', '!', false, false, true, now()
            FROM generate_series(1, %s) AS g
            """,
            [DOMAIN, count],
        )
        cursor.execute(
            """
            INSERT INTO account_emailaddress (user_id, email, verified, "primary")
            SELECT id, email, true, true FROM accounts_user WHERE email LIKE %s
            """,
            [f"%@{DOMAIN}"],
        )
        cursor.execute("SELECT id FROM consent_policyversion WHERE is_current")
        (version,) = cursor.fetchone()
        cursor.execute(
            """
            INSERT INTO consent_consentevent (subject_id, purpose_id, granted, legal_basis,
                source, policy_version_id, wording, occurred_at, ip_address, user_agent)
            SELECT u.id, p.id, true, 'consent', 'import', %s, p.wording, now(), NULL, ''
            FROM accounts_user u CROSS JOIN consent_purpose p
            WHERE u.email LIKE %s AND p.code = ANY(%s)
            """,
            [version, f"%@{DOMAIN}", GRANTED],
        )
        cursor.execute(
            """
            INSERT INTO consent_currentconsent (subject_id, purpose_id, granted, legal_basis,
                event_id, updated_at)
            SELECT e.subject_id, e.purpose_id, e.granted, e.legal_basis, e.id, e.occurred_at
            FROM consent_consentevent e WHERE e.source = 'import'
            """
        )
        # Plans for the tables as they now are (ANALYZE, unlike VACUUM, runs in a transaction).
        cursor.execute(
            "ANALYZE accounts_user, account_emailaddress, consent_consentevent, "
            "consent_currentconsent"
        )
        cursor.execute(
            "SELECT id FROM accounts_user WHERE email LIKE %s ORDER BY id", [f"%@{DOMAIN}"]
        )
        return [pk for (pk,) in cursor.fetchall()]


@dataclass(frozen=True)
class Session:
    subject: int
    email: str
    cookie: str  # the Cookie header's value


def log_in(subject_ids: list[int]) -> list[Session]:
    """A session for each subject, as logging in leaves it (the first through a real login,
    the rest its copy with their own id), written to the session table in one COPY."""
    users = dict(get_user_model().objects.filter(pk__in=subject_ids).values_list("pk", "email"))
    client = Client()
    client.force_login(get_user_model().objects.get(pk=subject_ids[0]))
    name = settings.SESSION_COOKIE_NAME
    template = SessionStore(session_key=client.cookies[name].value).load()
    expires = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    store = SessionStore()
    rows, sessions = io.StringIO(), []
    for pk in subject_ids[1:]:
        key = secrets.token_hex(16)
        data = store.encode({**template, "_auth_user_id": str(pk)})
        rows.write(f"{key}\t{data}\t{expires.isoformat()}\n")
        sessions.append(Session(pk, users[pk], f"{name}={key}"))
    rows.seek(0)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            "COPY django_session (session_key, session_data, expire_date) FROM STDIN", rows
        )
        cursor.execute("ANALYZE django_session")
    first = subject_ids[0]
    return [Session(first, users[first], f"{name}={client.cookies[name].value}"), *sessions]


def unsubscribe_paths(subject_ids: list[int]) -> list[tuple[int, str]]:
    """Each subject's one-click unsubscribe path from the newsletter, as a campaign signs it
    into the ``List-Unsubscribe`` header (``List-Unsubscribe-Post`` is the POST to it)."""
    paths = []
    for user in get_user_model().objects.filter(pk__in=subject_ids).only("pk", "email"):
        url = recipient_links(user=user, purpose=Purpose.NEWSLETTER)["unsubscribe_url"]
        paths.append((user.pk, url.removeprefix(settings.SITE_URL)))
    return paths

"""Every page a customer can reach, in each of its states (empty, with errors, after saving),
and the admin pages of our own models, fetched through the Django test client.

The HTML validator and the axe walk check the same documents, so a state added here is
checked by both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from allauth.account.utils import user_pk_to_url_str
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import NoReverseMatch, reverse

from communications.views.newsletter import confirmation_url
from consent.models import Purpose
from consent.provenance import Provenance
from consent.services.newsletter import request_newsletter_subscription
from consent.tokens import TokenUse, make_token
from tests.factories import TEST_PASSWORD, StaffFactory

# Apps whose admin pages are ours to keep accessible; django_celery_beat's forms carry our
# template and script (templates/admin/djcelery/, static/js/periodic-task-crontab-help.js).
OUR_ADMIN_APPS = (
    "api_keys",
    "consent",
    "communications",
    "sharing",
    "surveys",
    "accounts",
    "account",
    "staff_access",
    "django_celery_beat",
)


@dataclass(frozen=True)
class Document:
    name: str  # what the page shows, e.g. "sign-up, with errors"
    url: str  # the address the browser shows for it
    status: int
    html: str


@dataclass
class Catalogue:
    documents: list[Document] = field(default_factory=list)

    def keep(self, name: str, response) -> Document:
        content_type = response.get("Content-Type", "")
        assert content_type.startswith("text/html"), f"{name}: {content_type}"
        url = response.request["PATH_INFO"]
        if response.request.get("QUERY_STRING"):
            url += "?" + response.request["QUERY_STRING"]
        document = Document(name, url, response.status_code, response.content.decode())
        assert response.status_code < 500, f"{name}: {response.status_code}"
        self.documents.append(document)
        return document

    def get(self, client: Client, name: str, url: str, **extra) -> Document:
        return self.keep(name, client.get(url, follow=True, **extra))

    def post(self, client: Client, name: str, url: str, data: dict, **extra) -> Document:
        return self.keep(name, client.post(url, data, follow=True, **extra))


def _verified_customer(email: str, **fields):
    user = get_user_model().objects.create_user(email, TEST_PASSWORD, **fields)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _link_in(html: str, pattern: str) -> str:
    match = re.search(pattern, html)
    assert match, f"no link matching {pattern}"
    return match[0]


def customer_pages() -> list[Document]:
    pages = Catalogue()
    _visitor_pages(pages)
    _newsletter_pages(pages)
    _email_link_pages(pages)
    _account_entrance_pages(pages)
    _logged_in_pages(pages)
    _staff_sign_in_pages(pages)
    _closing_pages(pages)
    _policy_change_pages(pages)
    _survey_pages(pages)
    return pages.documents


def _visitor_pages(pages: Catalogue) -> None:
    visitor = Client()
    pages.get(visitor, "home, with the cookie banner", "/")
    pages.get(visitor, "privacy policy", "/privacy/")
    pages.get(visitor, "privacy policy history", "/privacy/history/")
    pages.get(visitor, "privacy policy version 1", "/privacy/1/")
    pages.get(visitor, "privacy policy version that does not exist", "/privacy/99/")
    pages.get(visitor, "page not found", "/no-such-page/")
    pages.get(visitor, "cookie preferences, no choice yet", "/cookies/")
    pages.post(visitor, "cookie preferences, with errors", "/cookies/", {"choice": "everything"})
    pages.post(
        visitor,
        "cookie preferences, after saving",
        "/cookies/",
        {"choice": "save", "analytics": "on", "next": "/cookies/"},
    )
    pages.post(
        Client(),
        "cookie preferences, after saving with Global Privacy Control",
        "/cookies/",
        {"choice": "accept_all", "next": "/cookies/"},
        HTTP_SEC_GPC="1",
    )
    pages.get(visitor, "home, after choosing cookies", "/")


def _newsletter_pages(pages: Catalogue) -> None:
    visitor = Client()
    pages.get(visitor, "newsletter sign-up", "/newsletter/")
    pages.post(visitor, "newsletter sign-up, with errors", "/newsletter/", {"email": "not-an"})
    pages.post(
        visitor,
        "newsletter sign-up, sent",
        "/newsletter/",
        {"first_name": "Nia", "last_name": "Jones", "email": "nia@example.com"},
    )
    url = request_newsletter_subscription(
        email="omar@example.com",
        first_name="Omar",
        provenance=Provenance(),
        confirm_url=confirmation_url,
    )
    assert url is not None
    link = _link_in(url, r"/newsletter/confirm/[^/]+/")
    pages.get(visitor, "newsletter confirmation", link)
    pages.post(visitor, "newsletter confirmed", link, {})
    pages.get(visitor, "newsletter confirmation link used again", link)
    pages.get(visitor, "newsletter confirmation link not valid", "/newsletter/confirm/nope/")
    pages.get(visitor, "page not found", "/no-such-page/")


def _email_link_pages(pages: Catalogue) -> None:
    visitor = Client()
    ada = _verified_customer("ada@example.com", first_name="Ada")
    newsletter = make_token(subject=ada, use=TokenUse.UNSUBSCRIBE, purpose=Purpose.NEWSLETTER)
    unsubscribe = f"/unsubscribe/{newsletter}/"
    everything = f"/unsubscribe/{make_token(subject=ada, use=TokenUse.UNSUBSCRIBE)}/"
    preferences = f"/preferences/{make_token(subject=ada, use=TokenUse.PREFERENCES)}/"
    pages.get(visitor, "preferences from an email link", preferences)
    pages.post(
        visitor,
        "preferences from an email link, after saving",
        preferences,
        {"newsletter": "on", "special_offers": "on"},
    )
    pages.get(visitor, "unsubscribe from one kind of email", unsubscribe)
    pages.post(visitor, "unsubscribed from one kind of email", unsubscribe, {})
    pages.get(visitor, "unsubscribe link opened again", unsubscribe)
    pages.get(visitor, "unsubscribe from all marketing", everything)
    pages.post(visitor, "unsubscribed from all marketing", everything, {})
    pages.get(visitor, "unsubscribe-from-all link opened again", everything)
    pages.get(visitor, "email link not valid", "/unsubscribe/nope/")


def _account_entrance_pages(pages: Catalogue) -> None:
    visitor = Client()
    pages.get(visitor, "sign-up", "/accounts/signup/")
    pages.post(
        visitor, "sign-up, with errors", "/accounts/signup/", {"email": "nope", "password1": "a"}
    )
    pages.post(
        visitor,
        "sign-up, sent",
        "/accounts/signup/",
        {
            "first_name": "Bea",
            "last_name": "Smith",
            "email": "bea@example.com",
            "password1": TEST_PASSWORD,
            "password2": TEST_PASSWORD,
            "purpose_newsletter": "on",
        },
    )
    pages.get(visitor, "log in", "/accounts/login/")
    pages.post(
        visitor,
        "log in, with errors",
        "/accounts/login/",
        {"login": "bea@example.com", "password": "wrong"},
    )
    pages.post(
        visitor,
        "log in, not yet verified",
        "/accounts/login/",
        {"login": "bea@example.com", "password": TEST_PASSWORD},
    )
    pages.get(visitor, "password reset", "/accounts/password/reset/")
    pages.post(
        visitor, "password reset, with errors", "/accounts/password/reset/", {"email": "nope"}
    )
    pages.post(
        visitor, "password reset, sent", "/accounts/password/reset/", {"email": "bea@example.com"}
    )

    cai = _verified_customer("cai@example.com")
    key = f"{user_pk_to_url_str(cai)}-{default_token_generator.make_token(cai)}"
    reset = pages.get(visitor, "choose a new password", f"/accounts/password/reset/key/{key}/")
    pages.post(
        visitor,
        "choose a new password, with errors",
        reset.url,
        {"password1": "a", "password2": "b"},
    )
    pages.post(
        visitor,
        "choose a new password, saved",
        reset.url,
        {"password1": "another long password", "password2": "another long password"},
    )
    pages.get(visitor, "password reset link not valid", "/accounts/password/reset/key/1-nope/")

    bea = get_user_model().objects.get(email="bea@example.com")
    address = EmailAddress.objects.get(user=bea)
    confirm = f"/accounts/confirm-email/{EmailConfirmationHMAC(address).key}/"
    pages.get(visitor, "confirm email address", confirm)
    pages.post(visitor, "confirm email address, confirmed", confirm, {})
    pages.get(visitor, "email confirmation link not valid", "/accounts/confirm-email/nope/")
    pages.get(visitor, "email confirmation sent", "/accounts/confirm-email/")
    pages.get(visitor, "account inactive", "/accounts/inactive/")


def _logged_in_pages(pages: Catalogue) -> None:
    dan = _verified_customer("dan@example.com", first_name="Dan", last_name="Ross")
    me = _logged_in(dan)
    pages.get(me, "home, logged in", "/")
    pages.get(me, "email preferences, no choices yet", "/preferences/")
    pages.post(
        me,
        "email preferences, after saving",
        "/preferences/",
        {"newsletter": "on", "surveys": "on"},
    )
    pages.post(
        me,
        "email preferences, after unsubscribing from all",
        "/preferences/",
        {"action": "withdraw_all"},
    )
    pages.get(me, "your details", "/accounts/profile/")
    profile = {
        "first_name": "Dan",
        "last_name": "Ross",
        "address_line_1": "1 High Street",
        "town": "Leeds",
        "postcode": "not a postcode",
        "phone": "",
        "contact_channel": "email",
    }
    pages.post(me, "your details, with errors", "/accounts/profile/", profile)
    pages.post(
        me, "your details, after saving", "/accounts/profile/", {**profile, "postcode": "LS1 4AP"}
    )
    pages.get(me, "your data", "/accounts/export/")
    _wishlist_pages(pages, me)
    _looked_at_by_staff(dan)
    pages.get(me, "your data, with staff accesses", "/accounts/export/")
    pages.get(me, "who received your data, with staff accesses", "/my-data/")
    pages.get(me, "cookie preferences, logged in", "/cookies/")
    pages.get(me, "nothing to choose about a policy change", "/privacy/choices/")
    pages.get(me, "deactivate your account", "/accounts/deactivate/")
    pages.get(me, "delete your account", "/accounts/delete/")
    pages.post(me, "delete your account, with errors", "/accounts/delete/", {"password": "wrong"})
    pages.get(me, "change password", "/accounts/password/change/")
    pages.post(
        me, "change password, with errors", "/accounts/password/change/", {"oldpassword": "x"}
    )
    pages.get(me, "change email address", "/accounts/email/")
    pages.post(
        me,
        "change email address, with errors",
        "/accounts/email/",
        {"action_add": "", "email": "nope"},
    )
    pages.get(me, "confirm it is you", "/accounts/reauthenticate/")
    pages.get(me, "log out", "/accounts/logout/")
    pages.post(
        me,
        "change password, saved",
        "/accounts/password/change/",
        {
            "oldpassword": TEST_PASSWORD,
            "password1": "a new long password",
            "password2": "a new long password",
        },
    )

    subscriber = get_user_model().objects.create_user("eve@example.com")
    EmailAddress.objects.create(
        user=subscriber, email=subscriber.email, verified=True, primary=True
    )
    pages.get(_logged_in(subscriber), "set a password", "/accounts/password/set/")


def _wishlist_pages(pages: Catalogue, me: Client) -> None:
    pages.get(me, "send a wishlist", "/wishlist/send/")
    wishlist = {
        "friend_name": "Flo Hart",
        "friend_email": "flo@example.com",
        "item_1_name": "Tripod",
        "item_1_link": "https://www.jessops.com/tripod",
    }
    pages.post(
        me,
        "send a wishlist, with errors",
        "/wishlist/send/",
        {**wishlist, "message": "see www.example.com", "item_2_link": "https://elsewhere.example/"},
    )
    with override_settings(REFERRAL_DAILY_LIMIT=1):
        pages.post(me, "wishlist sent", "/wishlist/send/", wishlist)
        pages.post(me, "too many wishlists today", "/wishlist/send/", wishlist)


def _looked_at_by_staff(person) -> None:
    from staff_access.services import record_access

    agent = StaffFactory(email="agent@jessops.example")
    record_access(
        staff=agent,
        action="view",
        page="admin:accounts_user_change",
        subject_ids=[person.pk],
        fields=["email", "first_name", "postcode"],
        role="Customer Support",
    )


def _staff_sign_in_pages(pages: Catalogue) -> None:
    """A member of staff setting up an authenticator app, and giving its code at log-in."""
    login = "/accounts/login/?next=/admin/"
    newcomer = StaffFactory(
        email="newcomer@jessops.example", verified=True, is_superuser=True, second_factor=False
    )
    client = Client()
    client.post(login, {"login": newcomer.email, "password": TEST_PASSWORD})
    pages.get(client, "staff: confirm it is you before setting up a second factor", "/admin/")
    client.post("/accounts/reauthenticate/", {"password": TEST_PASSWORD})
    pages.get(client, "staff: set up an authenticator app", "/accounts/2fa/totp/activate/")
    pages.post(
        client,
        "staff: set up an authenticator app, with errors",
        "/accounts/2fa/totp/activate/",
        {"code": "000000"},
    )

    member = StaffFactory(email="member@jessops.example", verified=True, is_superuser=True)
    client = Client()
    client.post(login, {"login": member.email, "password": TEST_PASSWORD})
    pages.get(client, "staff: authenticator code at log-in", "/accounts/2fa/authenticate/")
    pages.post(
        client,
        "staff: authenticator code at log-in, with errors",
        "/accounts/2fa/authenticate/",
        {"code": "000000"},
    )


def _closing_pages(pages: Catalogue) -> None:
    fay = _verified_customer("fay@example.com")
    pages.post(_logged_in(fay), "account deactivated", "/accounts/deactivate/", {})
    gus = _verified_customer("gus@example.com")
    pages.post(_logged_in(gus), "account deleted", "/accounts/delete/", {"password": TEST_PASSWORD})


def _policy_change_pages(pages: Catalogue) -> None:
    from communications.services.policy_changes import publish_policy_change
    from consent.services import current_policy_version, save_policy_draft

    officer = get_user_model().objects.create_user("officer@jessops.example", is_staff=True)
    hal = _verified_customer("hal@example.com")
    me = _logged_in(hal)
    practice = save_policy_draft(
        actor=officer,
        text=current_policy_version().text + "\n\nWe keep order records for six years.",
        summary="We keep order records for six years.",
        change_type="practice_change",
    )
    publish_policy_change(draft=practice, actor=officer)
    pages.get(me, "home, with a policy-change notice", "/")
    pages.get(me, "privacy policy version 2, what changed", "/privacy/2/")
    draft = save_policy_draft(
        actor=officer,
        text=current_policy_version().text + "\n\nWe may analyse what you buy.",
        summary="We may analyse what you buy, if you agree.",
        change_type="use_change",
        new_purposes=[
            {
                "code": "purchase_analysis",
                "name": "Shopping analysis",
                "wording": "We may analyse what you buy to suggest products you may like.",
            }
        ],
    )
    publish_policy_change(draft=draft, actor=officer)
    pages.get(me, "privacy policy history, three versions", "/privacy/history/")
    pages.get(me, "a choice about a policy change", "/privacy/choices/")
    pages.post(
        me,
        "a choice about a policy change, with errors",
        "/privacy/choices/",
        {"purpose_purchase_analysis": "maybe"},
    )
    pages.post(
        me,
        "a choice about a policy change, saved",
        "/privacy/choices/",
        {"purpose_purchase_analysis": "yes"},
    )
    choice = f"/privacy/choices/{make_token(subject=hal, use=TokenUse.PREFERENCES)}/"
    pages.get(Client(), "a choice about a policy change from an email link", choice)


def _survey_pages(pages: Catalogue) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from sharing.models import ThirdParty
    from surveys.services import QuestionSpec, SurveyDetails, open_survey, save_survey

    author = get_user_model().objects.create_superuser("surveys@jessops.example", TEST_PASSWORD)
    questions = [
        QuestionSpec(text="How easy was checkout?", kind="single", choices=["Easy", "Hard"]),
        QuestionSpec(text="What do you buy?", kind="multiple", choices=["Cameras", "Lenses"]),
        QuestionSpec(text="Anything else?", kind="free_text", required=True),
    ]
    details = SurveyDetails(
        kind="survey", title="Checkout survey", ask_postcode_district=True, ask_age_band=True
    )
    survey = save_survey(survey=None, details=details, questions=questions, actor=author)
    open_survey(survey=survey, actor=author)
    if not ThirdParty.objects.exists():  # flushed by a transactional test before this one
        from django.apps import apps

        from tests.sharing.conftest import SEED

        SEED.load(apps, None)
    sponsor = ThirdParty.objects.filter(purposes__contains=["prize_award"]).first()
    contest_details = SurveyDetails(
        kind="contest",
        title="Win a camera",
        sponsor=sponsor,
        prize="a camera",
        closes_at=timezone.now() + timedelta(days=7),
    )
    contest = save_survey(survey=None, details=contest_details, questions=[], actor=author)
    open_survey(survey=contest, actor=author)
    me = _logged_in(_verified_customer("ivy@example.com", first_name="Ivy"))
    pages.get(me, "surveys and contests", "/surveys/")
    pages.get(me, "a survey", f"/surveys/{survey.pk}/")
    pages.post(
        me, "a survey, with errors", f"/surveys/{survey.pk}/", {"postcode_district": "nowhere"}
    )
    pages.post(
        me,
        "a survey, answered",
        f"/surveys/{survey.pk}/",
        {f"question_{survey.questions.last().pk}": "Fine"},
    )
    pages.get(me, "a contest", f"/surveys/{contest.pk}/")
    pages.post(me, "a contest, with errors", f"/surveys/{contest.pk}/", {"contact_postcode": "x"})


def admin_pages(superuser) -> list[Document]:
    """The index, and each list, add and change page of our own models' admins."""
    pages = Catalogue()
    staff = _logged_in(superuser)
    pages.get(staff, "admin index", "/admin/")
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        if meta.app_label not in OUR_ADMIN_APPS:
            continue
        prefix = f"admin:{meta.app_label}_{meta.model_name}"
        name = f"admin {meta.app_label}.{meta.model_name}"
        pages.get(staff, f"{name} list", reverse(f"{prefix}_changelist"))
        try:
            add = reverse(f"{prefix}_add")
        except NoReverseMatch:
            add = None
        response = staff.get(add) if add else None
        if response is not None and response.status_code == 200:
            pages.keep(f"{name} add", response)
        first = model_admin.get_queryset(_request_for(superuser)).order_by("pk").first()
        if first is not None:
            response = staff.get(reverse(f"{prefix}_change", args=[first.pk]))
            if response.status_code == 200:
                pages.keep(f"{name} change", response)
    from surveys.models import Survey

    for survey in Survey.objects.order_by("pk")[:2]:
        pages.get(
            staff,
            f"admin survey results ({survey.kind})",
            f"/admin/surveys/survey/{survey.pk}/results/",
        )

    customer = type(superuser).objects.filter(is_staff=False, is_active=True).order_by("pk").first()
    if customer is not None:
        preferences = reverse("admin:accounts_user_preferences", args=[customer.pk])
        pages.get(staff, "admin a customer's preferences", preferences)
    return pages.documents


def _request_for(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request

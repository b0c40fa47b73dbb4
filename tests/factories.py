"""factory_boy factories for the rows tests set up, written through the services that write
them in production wherever a service exists.

The consent ledger, purpose words, policy versions, suppressions and API keys come from their
services, never from raw inserts: the ledger tables are append-only (a PostgreSQL trigger
refuses changes), and a service keeps the current-state table, the audit rows and the checks
in step. Each factory names the service it calls; its fields are that service's arguments.

    UserFactory(email="ann@example.com", consents=[Purpose.NEWSLETTER], verified=True)
    StaffFactory(permissions=["communications.view_campaign"])
    CampaignFactory(kind="special_offer", started=True)
    subscribers(3)  # sub0@example.com ... sub2@example.com, each with the newsletter

Only ``create`` is meant (the default strategy): these rows exist only once a service wrote
them. See docs/TESTING.md.
"""

from __future__ import annotations

from collections.abc import Iterable

import factory
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.db.models import Q
from factory.django import DjangoModelFactory

from accounts.services.roles import sync_staff_roles
from api_keys.models import Scope, SystemAPIKey
from api_keys.services import issue_api_key
from communications.kinds import MessageKind
from communications.models import Campaign, Delivery, Suppression
from communications.services import (
    create_campaign,
    enqueue_email,
    populate_campaign,
    send_campaign_now,
    suppress_address,
)
from consent.models import ConsentEvent, PolicyVersion, Purpose
from consent.services import (
    ConsentSource,
    LegalBasis,
    create_purpose,
    current_policy_version,
    grant_consent,
    publish_policy_version,
    record_decisions,
)

TEST_PASSWORD = "a long test password"


def role_groups(names: Iterable[str]) -> list[Group]:
    """The staff roles' groups named, as ``accounts/migrations/0007_staff_roles.py`` made them
    (set up again by the service if a transactional test emptied the tables)."""
    names = list(names)
    if Group.objects.filter(name__in=names).count() < len(set(names)):
        sync_staff_roles()
    return list(Group.objects.filter(name__in=names))


def permissions_named(names: Iterable[str]) -> list[Permission]:
    """The permissions named ``"codename"`` or ``"app_label.codename"`` (the form
    ``user.has_perm`` takes); a bare codename matches it in every app."""
    query = Q(pk__in=[])
    for name in names:
        app_label, _, codename = name.rpartition(".")
        if app_label:
            query |= Q(content_type__app_label=app_label, codename=codename)
        else:
            query |= Q(codename=codename)
    return list(Permission.objects.filter(query))


# --- People ----------------------------------------------------------------------------------


def set_up_second_factor(user) -> str:
    """Give ``user`` an authenticator app, as allauth's set-up page would; the secret (also
    ``user.totp_secret``) makes codes with ``tests.harness.totp.code_for``."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    user.totp_secret = secret
    return secret


def with_second_factor(user):
    """``user`` (made some other way, e.g. ``create_superuser``) with an authenticator app."""
    set_up_second_factor(user)
    return user


class UserFactory(DjangoModelFactory):
    """An account made by ``User.objects.create_user``, with ``TEST_PASSWORD`` unless told
    (``password=None`` gives the unusable password of a newsletter-only subscriber).

    After it is saved, in this order:

    - ``verified=True``: a primary, verified ``EmailAddress`` (logging in needs one);
      ``verified=False``: an unverified one; left out: none.
    - ``consents=[codes]``: each purpose granted by ``grant_consent``, source sign-up form
      unless ``consents__source`` (and ``consents__legal_basis``, ``consents__provenance``...)
      say otherwise.
    - ``permissions=[names]``: the user's permissions, by ``"codename"`` or
      ``"app_label.codename"``.
    - ``roles=[names]``: the staff roles (``privacy_site.roles``) whose groups they are in.
    """

    class Meta:
        model = settings.AUTH_USER_MODEL
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    password = TEST_PASSWORD

    @classmethod
    def _create(cls, model_class, *, email: str, password: str | None, **fields):
        return model_class.objects.create_user(email, password, **fields)

    @factory.post_generation
    def verified(user, create, extracted, **kwargs):
        if create and extracted is not None:
            EmailAddress.objects.create(
                user=user, email=user.email, verified=bool(extracted), primary=bool(extracted)
            )

    @factory.post_generation
    def consents(user, create, extracted, source: str = ConsentSource.SIGNUP_FORM, **kwargs):
        if create and extracted:
            for purpose in extracted:
                grant_consent(subject=user, purpose=purpose, source=source, **kwargs)

    @factory.post_generation
    def permissions(user, create, extracted, **kwargs):
        if create and extracted:
            user.user_permissions.set(permissions_named(extracted))

    @factory.post_generation
    def second_factor(user, create, extracted, **kwargs):
        """Staff as they are once set up: with an authenticator app, which the admin requires
        of staff who can see people's data. ``second_factor=False``: not set up yet."""
        if create and user.is_staff and extracted is not False:
            set_up_second_factor(user)

    @factory.post_generation
    def roles(user, create, extracted, **kwargs):
        if create and extracted:
            user.groups.set(role_groups(extracted))


class StaffFactory(UserFactory):
    """A member of staff (``is_staff``) with an authenticator app; give them
    ``permissions=[...]``."""

    email = factory.Sequence(lambda n: f"staff{n}@jessops.example")
    is_staff = True


class SuperuserFactory(UserFactory):
    """A superuser, made by ``User.objects.create_superuser``, with an authenticator app."""

    email = factory.Sequence(lambda n: f"root{n}@jessops.example")

    @classmethod
    def _create(cls, model_class, *, email: str, password: str | None, **fields):
        return model_class.objects.create_superuser(email, password, **fields)


class NewsletterSubscriberFactory(UserFactory):
    """What confirming the newsletter's double opt-in leaves: an account with no usable
    password holding the newsletter, granted from the newsletter form."""

    email = factory.Sequence(lambda n: f"subscriber{n}@example.com")
    password = None

    @classmethod
    def _create(cls, model_class, **fields):
        user = super()._create(model_class, **fields)
        grant_consent(
            subject=user, purpose=Purpose.NEWSLETTER, source=ConsentSource.NEWSLETTER_FORM
        )
        return user


def subscribers(count: int, *, prefix: str = "sub", purpose: str = Purpose.NEWSLETTER) -> list:
    """A campaign's audience: ``count`` accounts ``{prefix}0@example.com`` onwards, first
    names ``{Prefix}0`` onwards, each granted ``purpose`` at sign-up."""
    return [
        UserFactory(
            email=f"{prefix}{i}@example.com", first_name=f"{prefix.title()}{i}", consents=[purpose]
        )
        for i in range(count)
    ]


# --- Consent -----------------------------------------------------------------------------------


class PolicyVersionFactory(DjangoModelFactory):
    """The next version of the policy, published (in force from now) by
    ``publish_policy_version``: it starts nothing else, no notice and no email (for those,
    publish a draft with ``communications.services.policy_changes.publish_policy_change``)."""

    class Meta:
        model = PolicyVersion

    text = factory.Sequence(lambda n: f"The policy, as revised ({n}).")
    summary = "Wording clarified."
    change_type = PolicyVersion.ChangeType.EDITORIAL
    effective_date = None

    @classmethod
    def _create(cls, model_class, **fields):
        return publish_policy_version(**fields)


class PurposeFactory(DjangoModelFactory):
    """A purpose made by ``create_purpose`` (its first words recorded), introduced by the
    version in force unless ``introduced_in`` says otherwise, created by a member of staff."""

    class Meta:
        model = Purpose

    code = factory.Sequence(lambda n: f"purpose_{n}")
    name = factory.LazyAttribute(lambda o: o.code.replace("_", " ").capitalize())
    wording = factory.LazyAttribute(lambda o: f"Use my details for {o.name.lower()}.")
    is_optional = True
    mandatory_reason = ""
    introduced_in = factory.LazyFunction(current_policy_version)
    display_order = 50
    actor = factory.SubFactory(StaffFactory)

    @classmethod
    def _create(cls, model_class, **fields):
        return create_purpose(**fields)


class ConsentEventFactory(DjangoModelFactory):
    """One decision recorded by ``record_decisions``: the ledger row and the current state
    together. Returns the new ``ConsentEvent``, or None when the decision was already in
    force (the service writes nothing then)."""

    class Meta:
        model = ConsentEvent

    subject = factory.SubFactory(UserFactory)
    purpose = Purpose.NEWSLETTER
    granted = True
    source = ConsentSource.SIGNUP_FORM
    legal_basis = LegalBasis.CONSENT

    @classmethod
    def _create(cls, model_class, *, purpose: str, granted: bool, **fields):
        events = record_decisions(choices={purpose: granted}, **fields)
        return events[0] if events else None


# --- Communications ----------------------------------------------------------------------------


class CampaignFactory(DjangoModelFactory):
    """A draft campaign saved by ``create_campaign`` (the body sanitised, the purpose set from
    the kind); ``send_at=`` schedules it in the same call. ``started=True`` then sends it now
    and writes its delivery rows (``populate_campaign``), whose batch tasks are enqueued when
    the test's transaction commits."""

    class Meta:
        model = Campaign
        skip_postgeneration_save = True

    actor = None
    name = factory.Sequence(lambda n: f"Campaign {n}")
    kind = MessageKind.NEWSLETTER
    subject_line = "Spring news"
    body = "Hello {{ first_name }}, **new lenses** are in."

    @classmethod
    def _create(cls, model_class, **fields):
        return create_campaign(**fields)

    @factory.post_generation
    def started(campaign, create, extracted, **kwargs):
        if create and extracted:
            send_campaign_now(campaign=campaign)
            populate_campaign(campaign_id=campaign.pk)
            campaign.refresh_from_db()


class DeliveryFactory(DjangoModelFactory):
    """A campaign's delivery row as a finished send leaves it: sent to a recipient holding
    the campaign's purpose. Campaign rows have no service of their own (``populate_campaign``
    writes them in bulk) and no trigger, so this one is inserted; for a transactional email
    use ``OutboxEmailFactory``."""

    class Meta:
        model = Delivery

    campaign = factory.SubFactory(CampaignFactory)
    kind = factory.LazyAttribute(lambda o: o.campaign.kind)
    user = factory.LazyAttribute(lambda o: UserFactory(consents=[o.campaign.purpose.code]))
    status = Delivery.Status.SENT


class OutboxEmailFactory(DjangoModelFactory):
    """A transactional email written to the outbox by ``enqueue_email`` (the gate asked; the
    relay waits for the transaction to commit): a welcome email unless told."""

    class Meta:
        model = Delivery

    kind = MessageKind.WELCOME
    user = factory.SubFactory(UserFactory)
    to_email = ""
    context = factory.LazyFunction(lambda: {"verify_url": "https://shop.example/verify/1/"})

    @classmethod
    def _create(cls, model_class, **fields):
        return enqueue_email(**fields)


class SuppressionFactory(DjangoModelFactory):
    """An address on the suppression list, put there by ``suppress_address`` (only its hash
    is stored): ``SuppressionFactory(address="dan@example.com")``."""

    class Meta:
        model = Suppression

    address = factory.Sequence(lambda n: f"suppressed{n}@example.com")
    reason = Suppression.Reason.HARD_BOUNCE
    detail = ""

    @classmethod
    def _create(cls, model_class, *, address: str, **fields):
        return suppress_address(address, **fields)


# --- API keys ----------------------------------------------------------------------------------


class APIKeyFactory(DjangoModelFactory):
    """A system's key issued by ``issue_api_key`` (audited), consents:read unless told. The
    key itself is stored nowhere; the factory leaves it on the row as ``secret``."""

    class Meta:
        model = SystemAPIKey

    name = "Checkout"
    scopes = (Scope.CONSENTS_READ,)
    actor = factory.SubFactory(StaffFactory)
    expires_at = None

    @classmethod
    def _create(cls, model_class, **fields):
        key, secret = issue_api_key(**fields)
        key.secret = secret
        return key

"""Turning a kind and its context into a subject, a plain-text body, an HTML body and headers.

Every kind has ``templates/emails/<kind>.subject.txt``, ``<kind>.txt`` and ``<kind>.html``,
extending the shared ``emails/_layout.txt`` / ``emails/_layout.html``. Campaign bodies, written
by staff in Markdown or HTML, are sanitised with nh3 once, when the campaign is saved.

A campaign is rendered once per batch with *merge fields* where per-recipient values go
(``[[first_name]]``, ``[[unsubscribe_url]]``, ``[[preferences_url]]``); each recipient's
message then costs a few string replacements, or nothing at all when the provider fills the
fields in itself (anymail batch sending).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import html
import re
from dataclasses import dataclass, field
from urllib.parse import quote

import markdown
import nh3
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.safestring import mark_safe

from consent.tokens import TokenUse, make_token

from .kinds import Category, rule_for
from .models import Campaign

MERGE_FIELDS = ("first_name", "unsubscribe_url", "preferences_url", "choice_url")
# Kinds whose message carries a signed link to the page where the person chooses on a new use.
CHOICE_KINDS = {"policy_use_change"}
# Staff may write {{ first_name }} in a campaign's subject or body.
_AUTHOR_MERGE_TAG = re.compile(r"\{\{\s*first_name\s*\}\}")
_ALLOWED_TAGS = nh3.ALLOWED_TAGS - {"map", "area"}
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "abbr": {"title"},
}


def merge_field(name: str) -> str:
    return f"[[{name}]]"


@dataclass
class Rendered:
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)


# --- Campaign bodies ---------------------------------------------------------------------------


def sanitise_body(body: str, body_format: str) -> tuple[str, str]:
    """``(html, text)`` for a campaign body: scripts, styles, event handlers and unsafe URLs
    removed; links open the page itself, never javascript: or data: URLs."""
    body = _AUTHOR_MERGE_TAG.sub(merge_field("first_name"), body)
    if body_format == Campaign.BodyFormat.MARKDOWN:
        raw_html = markdown.markdown(body, extensions=["extra", "sane_lists"])
    else:
        raw_html = body
    clean_html = nh3.clean(
        raw_html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"https", "http", "mailto"},
        link_rel="noopener noreferrer",
    )
    return clean_html, _html_to_text(clean_html)


def _strip_tags(value: str) -> str:
    return html.unescape(nh3.clean(value, tags=set()))


def _html_to_text(value: str) -> str:
    """Plain text of sanitised HTML: block ends become blank lines, links keep their URL."""
    value = re.sub(
        r'(?is)<a\s[^>]*href="([^"]*)"[^>]*>(.*?)</a>',
        lambda m: m.group(2) if m.group(2) == m.group(1) else f"{m.group(2)} ({m.group(1)})",
        value,
    )
    value = re.sub(r"(?i)<br\s*/?>", "\n", value)
    value = re.sub(r"(?i)</(p|div|h[1-6]|li|tr|blockquote)>", "\n\n", value)
    value = re.sub(r"(?i)<li>", "- ", value)
    text = _strip_tags(value)
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"\n\s*\n\s*\n+", "\n\n", text).strip()


@dataclass(frozen=True)
class CampaignTemplate:
    """A campaign rendered once, with merge fields for what differs per recipient."""

    campaign_id: int
    kind: str
    purpose: str
    subject: str
    text: str
    html: str

    def for_recipient(
        self, values: dict[str, str], headers: dict[str, str] | None = None
    ) -> Rendered:
        subject, text, body_html = self.subject, self.text, self.html
        for name, value in values.items():
            placeholder = merge_field(name)
            subject = subject.replace(placeholder, value)
            text = text.replace(placeholder, value)
            body_html = body_html.replace(placeholder, html.escape(value))
        return Rendered(subject=subject, text=text, html=body_html, headers=dict(headers or {}))

    def with_merge_format(self, merge_format: str) -> CampaignTemplate:
        """The same template with merge fields in the provider's own syntax, e.g.
        ``{{FIELD}}`` or ``%recipient.FIELD%`` (``FIELD`` stands for the name)."""
        subject, text, body_html = self.subject, self.text, self.html
        for name in MERGE_FIELDS:
            provider_field = merge_format.replace("FIELD", name)
            subject = subject.replace(merge_field(name), provider_field)
            text = text.replace(merge_field(name), provider_field)
            body_html = body_html.replace(merge_field(name), provider_field)
        return CampaignTemplate(self.campaign_id, self.kind, self.purpose, subject, text, body_html)


def campaign_template(campaign: Campaign) -> CampaignTemplate:
    context = {
        "campaign": campaign,
        "body_html": mark_safe(campaign.body_html),  # noqa: S308 - sanitised by nh3 on save
        "body_text": campaign.body_text,
        "first_name": merge_field("first_name"),
        "unsubscribe_url": merge_field("unsubscribe_url"),
        "preferences_url": merge_field("preferences_url"),
        "choice_url": merge_field("choice_url"),
        "purpose_name": campaign.purpose.name,
        **_site_context(),
    }
    category = rule_for(campaign.kind).category
    context["is_marketing"] = category is Category.MARKETING
    return CampaignTemplate(
        campaign_id=campaign.pk,
        kind=campaign.kind,
        purpose=campaign.purpose.code,
        subject=_AUTHOR_MERGE_TAG.sub(merge_field("first_name"), campaign.subject_line),
        text=render_to_string(f"emails/{campaign.kind}.txt", context).strip() + "\n",
        html=render_to_string(f"emails/{campaign.kind}.html", context),
    )


# --- Per-recipient links and headers -----------------------------------------------------------


def _link_prefix(name: str) -> str:
    """``SITE_URL`` + the path of URL ``name`` up to its token: resolved once per batch
    rather than once per recipient."""
    marker = "TOKEN"
    return settings.SITE_URL + reverse(name, args=[marker]).rsplit(marker, 1)[0]


def link_prefixes() -> dict[str, str]:
    return {
        "preferences": _link_prefix("preferences-token"),
        "unsubscribe": _link_prefix("unsubscribe"),
        "choice": _link_prefix("policy-choice-token"),
    }


def recipient_links(
    *, user, purpose: str | None, ref: str = "", prefixes: dict[str, str] | None = None
) -> dict[str, str]:
    """Signed links that work without logging in: the preference centre, and (for marketing)
    one-click unsubscribe from ``purpose``. ``prefixes`` (from ``link_prefixes``) saves
    resolving the URLs again for each recipient of a batch."""
    prefixes = prefixes or link_prefixes()
    token = make_token(subject=user, use=TokenUse.PREFERENCES)
    links = {"preferences_url": f"{prefixes['preferences']}{token}/"}
    if purpose is not None:
        token = make_token(subject=user, use=TokenUse.UNSUBSCRIBE, purpose=purpose, ref=ref)
        links["unsubscribe_url"] = f"{prefixes['unsubscribe']}{token}/"
    return links


def unsubscribe_mailto() -> str:
    configured = getattr(settings, "EMAIL_UNSUBSCRIBE_MAILTO", "")
    if configured:
        return configured
    from_address = settings.DEFAULT_FROM_EMAIL.rsplit("<", 1)[-1].rstrip(">")
    return f"unsubscribe@{from_address.rpartition('@')[2] or 'localhost'}"


MAILTO_SALT = "communications.unsubscribe-mailto"
MAILTO_CODE_LENGTH = 20  # hex digits: 80 bits


def unsubscribe_mailto_code(reference: str, *, secret: str | None = None) -> str:
    """The code an unsubscribe email's subject carries beside the message's reference. Only
    the message we sent holds it: with the sender check, an unsubscribe email quoting it
    comes from the person it was sent to, not from whoever can write their address in a
    ``From:`` header and count through references."""
    mac = _mailto_mac(secret or settings.SECRET_KEY).copy()
    mac.update(reference.encode())
    return mac.hexdigest()[:MAILTO_CODE_LENGTH]


@functools.lru_cache(maxsize=8)
def _mailto_mac(secret: str) -> hmac.HMAC:
    """``salted_hmac(MAILTO_SALT, ..., secret=secret, algorithm="sha256")``'s keyed HMAC,
    derived once per key rather than for every recipient of a campaign (as consent.tokens
    does for the link tokens)."""
    key = hashlib.sha256((MAILTO_SALT + secret).encode()).digest()
    return hmac.new(key, digestmod=hashlib.sha256)


def unsubscribe_mailto_code_matches(reference: str, code: str) -> bool:
    """Whether ``code`` is ``reference``'s, under the secret key or one it replaced."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return any(
        constant_time_compare(code.lower(), unsubscribe_mailto_code(reference, secret=secret))
        for secret in secrets
    )


def list_unsubscribe_headers(*, unsubscribe_url: str, reference: str) -> dict[str, str]:
    """RFC 2369 and RFC 8058 headers: an HTTPS one-click URL first, and a mailto fallback
    whose subject names the message and carries its code, for mail clients that only know
    mailto."""
    subject = f"unsubscribe {reference} {unsubscribe_mailto_code(reference)}"
    mailto = f"mailto:{unsubscribe_mailto()}?subject={quote(subject)}"
    return {
        "List-Unsubscribe": f"<{unsubscribe_url}>, <{mailto}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


# --- Transactional kinds -----------------------------------------------------------------------


def render_transactional(*, kind: str, user, context: dict) -> Rendered:
    """A transactional or single message of ``kind``; ``user`` is None for address-only kinds."""
    rule = rule_for(kind)
    full = {**_site_context(), **context, "user": user, "kind": kind}
    if user is not None:
        full.setdefault("first_name", user.first_name)
        links = recipient_links(user=user, purpose=rule.purpose if rule.is_marketing else None)
        full.update(links)
    subject = render_to_string(f"emails/{kind}.subject.txt", full).strip()
    rendered = Rendered(
        subject=" ".join(subject.split()),
        text=render_to_string(f"emails/{kind}.txt", full).strip() + "\n",
        html=render_to_string(f"emails/{kind}.html", full),
    )
    if rule.is_marketing and user is not None:
        rendered.headers.update(
            list_unsubscribe_headers(
                unsubscribe_url=full["unsubscribe_url"], reference=str(context.get("ref", ""))
            )
        )
    return rendered


def _site_context() -> dict[str, str]:
    return {
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "privacy_url": settings.SITE_URL + reverse("privacy"),
    }


# --- Any delivery row ---------------------------------------------------------------------------


_NOT_IN_MERGE_DATA = str.maketrans("", "", '<>"')


def _merge_safe(value: str) -> str:
    """A name as a merge value: one line (it may go into the subject), and no angle
    brackets or double quotes, since providers substitute merge data into the HTML without
    escaping it: a bracket would start an element, a quote end the attribute a writer put
    the name in (``title="For {{ first_name }}"``) and start another (``onerror=``)."""
    return " ".join(value.translate(_NOT_IN_MERGE_DATA).split())


def merge_values(
    *, user, purpose: str | None, ref: str, prefixes: dict[str, str] | None = None
) -> dict[str, str]:
    """What a campaign message says differently to each recipient."""
    return {
        "first_name": _merge_safe(user.first_name) or "there",
        **recipient_links(user=user, purpose=purpose, ref=ref, prefixes=prefixes),
    }


def recipient_values(
    template: CampaignTemplate, *, user, ref: str, prefixes: dict[str, str] | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """What differs per recipient of a campaign: its merge values, and for marketing its
    unsubscribe headers."""
    marketing = rule_for(template.kind).is_marketing
    values = merge_values(
        user=user, purpose=template.purpose if marketing else None, ref=ref, prefixes=prefixes
    )
    if template.kind in CHOICE_KINDS:
        # The preference centre's kind of token: it lets the person choose without logging in.
        token = make_token(subject=user, use=TokenUse.PREFERENCES)
        values["choice_url"] = f"{(prefixes or link_prefixes())['choice']}{token}/"
    headers = (
        list_unsubscribe_headers(unsubscribe_url=values["unsubscribe_url"], reference=ref)
        if marketing
        else {}
    )
    return values, headers


def personalise(
    template: CampaignTemplate, *, user, ref: str, prefixes: dict[str, str] | None = None
) -> Rendered:
    """A campaign message for one recipient, with its unsubscribe headers for marketing."""
    values, headers = recipient_values(template, user=user, ref=ref, prefixes=prefixes)
    return template.for_recipient(values, headers)


def render_delivery(delivery) -> Rendered:
    """The message a delivery row stands for: a campaign test, or a transactional kind."""
    from .kinds import MessageKind

    ref = str(delivery.pk)
    if delivery.kind == MessageKind.CAMPAIGN_TEST:
        campaign = Campaign.objects.select_related("purpose").get(
            pk=delivery.context["campaign_id"]
        )
        rendered = personalise(campaign_template(campaign), user=delivery.user, ref=ref)
        rendered.subject = f"[Test] {rendered.subject}"
        return rendered
    return render_transactional(
        kind=delivery.kind,
        user=delivery.user,
        context={**delivery.context, "ref": ref},
    )

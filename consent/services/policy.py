"""Publishing a new version of the privacy policy."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone

from consent.models import PolicyDraft, PolicyNoticeDismissal, PolicyVersion, Purpose
from consent.services.ledger import ConsentError
from consent.services.purposes import create_purpose
from privacy_site.auth_user import AuthUser


def _check_version(*, text: str, summary: str, change_type: str) -> None:
    """What every version needs, drafted or published; ``ConsentError`` names what is missing."""
    if change_type not in PolicyVersion.ChangeType.values:
        raise ConsentError(f"Unknown change type {change_type!r}.")
    if not text.strip():
        raise ConsentError("The policy text is empty.")
    if not summary.strip():
        raise ConsentError("Say what changed: the summary is empty.")


@transaction.atomic
def publish_policy_version(
    *,
    text: str,
    summary: str,
    change_type: str,
    effective_date: datetime.date | None = None,
) -> PolicyVersion:
    """Add the next version and make it the one in force; earlier versions stay as they were."""
    _check_version(text=text, summary=summary, change_type=change_type)
    # Lock the current row so two publishers can't both become version N+1.
    list(PolicyVersion.objects.select_for_update().filter(is_current=True))
    number = (PolicyVersion.objects.aggregate(top=Max("number"))["top"] or 0) + 1
    PolicyVersion.objects.filter(is_current=True).update(is_current=False)
    return PolicyVersion.objects.create(
        number=number,
        text=text,
        summary=summary,
        change_type=change_type,
        effective_date=effective_date or timezone.localdate(),
        is_current=True,
    )


# --- Drafts ------------------------------------------------------------------------------------

_PURPOSE_KEYS = {"code", "name", "wording"}


def _check_new_purposes(change_type: str, new_purposes: list[Any]) -> list[dict[str, str]]:
    if not isinstance(new_purposes, list) or not all(
        isinstance(item, dict) and set(item) == _PURPOSE_KEYS for item in new_purposes
    ):
        raise ConsentError('New purposes must be a list of {"code", "name", "wording"}.')
    if not all(isinstance(value, str) for item in new_purposes for value in item.values()):
        raise ConsentError("A new purpose's code, name and wording are each text.")
    clean = [{key: item[key].strip() for key in _PURPOSE_KEYS} for item in new_purposes]
    for item in clean:
        _check_purpose_fields(item)
    if change_type == PolicyVersion.ChangeType.USE_CHANGE and not clean:
        raise ConsentError(
            "A use change introduces at least one new purpose: the new use people choose."
        )
    if change_type != PolicyVersion.ChangeType.USE_CHANGE and clean:
        raise ConsentError("Only a use change introduces new purposes.")
    codes = [item["code"] for item in clean]
    taken = set(Purpose.objects.filter(code__in=codes).values_list("code", flat=True))
    if taken or len(set(codes)) != len(codes):
        raise ConsentError(f"Purpose codes already used: {', '.join(sorted(taken) or codes)}.")
    for item in clean:
        if not all(item.values()):
            raise ConsentError("Each new purpose needs a code, a name and its wording.")
    return clean


def _check_purpose_fields(item: dict[str, str]) -> None:
    """The purpose's own field checks (a slug of at most 50 characters, a name of at most
    100, no NUL anywhere), as ``ConsentError``: checked when the draft is saved, so
    publishing it cannot fail on them."""
    if any("\x00" in value for value in item.values()):
        raise ConsentError("A new purpose can't contain a NUL character.")
    for key in ("code", "name", "wording"):
        if not item[key]:
            continue  # the caller says which are missing, all at once
        try:
            field = Purpose._meta.get_field(key)
            assert isinstance(field, models.Field)
            field.clean(item[key], None)
        except ValidationError as error:
            message = " ".join(error.messages)
            raise ConsentError(f"New purpose {key} {item[key][:60]!r}: {message}") from None


@transaction.atomic
def save_policy_draft(
    *,
    actor: AuthUser,
    text: str,
    summary: str,
    change_type: str,
    new_purposes: list[Any] | None = None,
    draft: PolicyDraft | None = None,
) -> PolicyDraft:
    """Create a draft (``draft`` None) or change one; a published draft can't change."""
    _check_version(text=text, summary=summary, change_type=change_type)
    purposes = _check_new_purposes(change_type, new_purposes or [])
    if draft is not None:
        draft = PolicyDraft.objects.select_for_update().get(pk=draft.pk)
        if draft.published_version_id is not None:
            raise ConsentError("A published version can't be changed; draft a new one.")
    else:
        draft = PolicyDraft(created_by=actor)
    draft.text, draft.summary, draft.change_type = text, summary.strip(), change_type
    draft.new_purposes = purposes
    draft.save()
    return draft


@transaction.atomic
def publish_policy_draft(
    *, draft: PolicyDraft, actor: AuthUser, effective_date: datetime.date | None = None
) -> PolicyVersion:
    """Publish ``draft`` as the next version, in force now, with the purposes it introduces
    (off for everyone until each person says yes). Sends nothing: the communications app's
    ``publish_policy_change`` calls this and starts the notices in the same transaction."""
    draft = PolicyDraft.objects.select_for_update().get(pk=draft.pk)
    if draft.published_version_id is not None:
        raise ConsentError("This draft is published already.")
    purposes = _check_new_purposes(draft.change_type, draft.new_purposes)
    version = publish_policy_version(
        text=draft.text,
        summary=draft.summary,
        change_type=draft.change_type,
        effective_date=effective_date,
    )
    for order, item in enumerate(purposes):
        create_purpose(
            code=item["code"],
            name=item["name"],
            wording=item["wording"],
            is_optional=True,
            introduced_in=version,
            display_order=100 + order,
            actor=actor,
        )
    draft.published_version = version
    draft.save(update_fields=["published_version", "updated_at"])
    return version


def dismiss_policy_notice(*, subject: AuthUser, version: PolicyVersion) -> bool:
    """Record that ``subject`` closed the notice of ``version``; False if closed before."""
    _, created = PolicyNoticeDismissal.objects.get_or_create(
        subject=subject, version=version, defaults={"dismissed_at": timezone.now()}
    )
    return created

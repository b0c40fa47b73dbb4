"""Purposes and their words. The words shown when asking for consent are proof of what a
person agreed to: they are never edited in place. Each version is a ``PurposeText`` row
(append-only) saying who set it, why, and which policy version was in force; the purpose
holds the latest words, written in the same transaction. The ledger copies the wording into
every decision, so a decision keeps the words it was made under whatever happens later."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from consent.models import PolicyVersion, Purpose, PurposeText
from consent.services.ledger import ConsentError, current_policy_version
from privacy_site.auth_user import AuthUser
from privacy_site.staff import is_active_staff


def _check_words(*, name: str, wording: str, is_optional: bool, mandatory_reason: str) -> None:
    if not name.strip():
        raise ConsentError("The purpose needs a name.")
    if not wording.strip():
        raise ConsentError("The wording shown when asking is empty.")
    if not is_optional and not mandatory_reason.strip():
        raise ConsentError("A mandatory purpose needs the reason shown instead of a choice.")


def _check_staff(actor: AuthUser | None) -> None:
    if not is_active_staff(actor):
        raise ConsentError("Only a member of staff may set a purpose's words.")


@transaction.atomic
def create_purpose(
    *,
    code: str,
    name: str,
    wording: str,
    is_optional: bool,
    mandatory_reason: str = "",
    introduced_in: PolicyVersion,
    display_order: int = 0,
    actor: AuthUser,
) -> Purpose:
    """A new purpose with its first words (recorded as its first ``PurposeText``)."""
    _check_staff(actor)
    _check_words(
        name=name, wording=wording, is_optional=is_optional, mandatory_reason=mandatory_reason
    )
    if Purpose.objects.filter(code=code).exists():
        raise ConsentError(f"A purpose with the code {code!r} exists already.")
    purpose = Purpose.objects.create(
        code=code,
        name=name.strip(),
        wording=wording.strip(),
        is_optional=is_optional,
        mandatory_reason=mandatory_reason.strip(),
        introduced_in=introduced_in,
        display_order=display_order,
    )
    _record_text(purpose, reason="The purpose was created.", actor=actor)
    return purpose


@transaction.atomic
def reword_purpose(
    *,
    purpose: Purpose,
    name: str,
    wording: str,
    mandatory_reason: str,
    reason: str,
    actor: AuthUser,
) -> PurposeText | None:
    """New words for ``purpose``, recorded with who changed them, why, and the policy version
    in force; the purpose shows them from now on. Decisions already recorded keep the words
    they were made under. None when nothing changed. Raises ``ConsentError``."""
    _check_staff(actor)
    reason = reason.strip()
    if not reason:
        raise ConsentError("Say why the words change.")
    locked = Purpose.objects.select_for_update().get(pk=purpose.pk)
    _check_words(
        name=name,
        wording=wording,
        is_optional=locked.is_optional,
        mandatory_reason=mandatory_reason,
    )
    new = {
        "name": name.strip(),
        "wording": wording.strip(),
        "mandatory_reason": mandatory_reason.strip(),
    }
    if all(getattr(locked, field) == value for field, value in new.items()):
        return None
    for field, value in new.items():
        setattr(locked, field, value)
    locked.save(update_fields=list(new))
    for field, value in new.items():
        setattr(purpose, field, value)
    return _record_text(locked, reason=reason, actor=actor)


def _record_text(purpose: Purpose, *, reason: str, actor: AuthUser) -> PurposeText:
    return PurposeText.objects.create(
        purpose=purpose,
        name=purpose.name,
        wording=purpose.wording,
        mandatory_reason=purpose.mandatory_reason,
        reason=reason,
        policy_version=current_policy_version(),
        changed_by=actor,
        created_at=timezone.now(),
    )

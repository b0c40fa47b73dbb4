"""Requests for personal data from courts and authorities: logged by staff, approved or rejected
by a Privacy Officer who did not log them, and only then fulfilled.

Every step writes a ``LegalRequestStep`` in its transaction: logging, the decision (with its
reason), the fulfilment (the export's digest, the disclosures written), and each download of
the order or the export. Each function raises ``LegalRequestError`` with the reason, writing
nothing, when a rule is broken:

- logging needs ``sharing.add_legalrequest``; the authority is a public authority in the
  register, registered for legal obligations and active; the kinds of data are ones it may
  receive; the period ends on or after it starts and does not start in the future; the order
  is a PDF (by its content) of at most ``LEGAL_REQUEST_DOCUMENT_MAX_BYTES``;
- deciding, fulfilling and reading the documents need ``sharing.approve_legalrequest`` (a
  Privacy Officer); whoever logged a request can't decide on it;
- only an approved request is fulfilled, once: an export limited to its people, kinds of data
  and period, stored privately, and one disclosure per person in the log (legal basis and
  purpose legal obligation, reference the request).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from privacy_site.auth_user import AuthUser
from privacy_site.staff import is_active_staff
from sharing.legal_export import build_export
from sharing.legal_models import LegalRequest, LegalRequestStep
from sharing.models import DataCategory, DisclosurePurpose, LegalBasis, Role, ThirdParty

from .disclosures import REFERENCE_MAX, DisclosureRefused, record_disclosures

OFFICER = "sharing.approve_legalrequest"
Status = LegalRequest.Status
Step = LegalRequestStep.Kind
# The most people one request may name: a court order about more is logged in parts.
MAX_PEOPLE = 500
# Where a PDF says what it is, and where it must say it ends.
PDF_MAGIC = b"%PDF-"
PDF_END = b"%%EOF"
PDF_TAIL = 2048


class LegalRequestError(ValueError):
    """A step on a legal request that can't be taken: the message says why, for staff."""


@dataclass(frozen=True, kw_only=True)
class LegalScope:
    """Who, what and when a request asks about."""

    people: Sequence[AuthUser]
    categories: Sequence[str]
    period_start: date
    period_end: date


def is_privacy_officer(user: AuthUser | None) -> bool:
    return is_active_staff(user, OFFICER)


def scope_problems(*, authority: ThirdParty | None, scope: LegalScope) -> list[str]:
    """What is wrong with a request's authority and scope (the form shows the same)."""
    problems = []
    today = timezone.localdate()
    if authority is None:
        problems.append("Choose the court or authority.")
    elif authority.role != Role.PUBLIC_AUTHORITY or (
        DisclosurePurpose.LEGAL_OBLIGATION not in authority.purposes
    ):
        problems.append(
            f"{authority.name} is not a public authority registered for legal obligations: "
            "add the authority to the register first."
        )
    elif not authority.is_active_on(today):
        problems.append(f"{authority.name} is not active in the register today.")
    categories = list(scope.categories)
    unknown = sorted(set(categories) - set(DataCategory.values))
    if unknown:
        problems.append(f"Unknown kinds of data: {', '.join(unknown)}.")
    elif not categories:
        problems.append("Name the kinds of data the order asks for.")
    elif authority is not None:
        beyond = [value for value in categories if value not in authority.categories]
        if beyond:
            labels = dict(DataCategory.choices)
            problems.append(
                f"{authority.name} may not receive {', '.join(labels[v] for v in beyond)} "
                "in the register."
            )
    if not scope.people:
        problems.append("Name the people the order is about.")
    elif len({person.pk for person in scope.people}) > MAX_PEOPLE:
        problems.append(f"At most {MAX_PEOPLE} people per request: log it in parts.")
    if scope.period_end < scope.period_start:
        problems.append("The period can't end before it starts.")
    if scope.period_start > today:
        problems.append("The period can't start in the future.")
    return problems


def check_order_document(document: File[Any]) -> tuple[str, int]:
    """``(sha256, size)`` of an order document that is a PDF of an accepted size, judged by
    its content (the name and the browser's content type prove nothing). Raises
    ``LegalRequestError``."""
    limit = settings.LEGAL_REQUEST_DOCUMENT_MAX_BYTES
    size = document.size or 0
    if size == 0:
        raise LegalRequestError("The order document is empty.")
    if size > limit:
        raise LegalRequestError(
            f"The order document is larger than {limit / (1024 * 1024):g} MB: upload a "
            "smaller scan."
        )
    document.seek(0)
    head = document.read(len(PDF_MAGIC))
    document.seek(max(0, size - PDF_TAIL))
    tail = document.read(PDF_TAIL)
    if head != PDF_MAGIC or PDF_END not in tail:
        raise LegalRequestError("The order document must be a PDF file.")
    digest = hashlib.sha256()
    document.seek(0)
    for chunk in document.chunks():
        digest.update(chunk)
    document.seek(0)
    return digest.hexdigest(), size


def _step(
    request: LegalRequest, kind: str, actor: AuthUser, *, note: str = "", **details: Any
) -> LegalRequestStep:
    return LegalRequestStep.objects.create(
        request=request, kind=kind, actor=actor, at=timezone.now(), note=note, details=details
    )


def _document_name(name: str) -> str:
    # Only shown to Privacy Officers, and never used as a path.
    return " ".join((name or "order.pdf").replace("/", " ").replace("\\", " ").split())[:200]


def log_legal_request(
    *,
    authority: ThirdParty,
    authority_reference: str,
    description: str,
    document: File[Any],
    scope: LegalScope,
    actor: AuthUser,
) -> LegalRequest:
    """Log a court order or authority's request with its document, awaiting a Privacy
    Officer's approval."""
    if not is_active_staff(actor, "sharing.add_legalrequest"):
        raise LegalRequestError("You may not log legal requests.")
    authority_reference = " ".join(authority_reference.split())
    description = description.strip()
    problems = scope_problems(authority=authority, scope=scope)
    if not authority_reference:
        problems.insert(0, "Give the court's or authority's reference.")
    elif len(authority_reference) > 200:
        problems.insert(0, "The authority's reference is longer than 200 characters.")
    if not description:
        problems.append("Say what the order asks for.")
    if problems:
        raise LegalRequestError(" ".join(problems))
    digest, size = check_order_document(document)
    categories = [value for value in DataCategory.values if value in set(scope.categories)]
    people = sorted({person.pk: person for person in scope.people}.values(), key=lambda p: p.pk)
    request = LegalRequest(
        authority=authority,
        authority_reference=authority_reference,
        description=description,
        document_name=_document_name(getattr(document, "name", "")),
        document_sha256=digest,
        document_size=size,
        categories=categories,
        period_start=scope.period_start,
        period_end=scope.period_end,
        logged_by=actor,
        logged_at=timezone.now(),
    )
    request.document.save(f"{uuid.uuid4().hex}.pdf", document, save=False)
    try:
        with transaction.atomic():
            request.save()
            request.people.set(people)
            _step(
                request,
                Step.LOGGED,
                actor,
                note=description,
                people=[person.pk for person in people],
                categories=categories,
                period=[scope.period_start.isoformat(), scope.period_end.isoformat()],
                document_sha256=digest,
            )
    except BaseException:
        request.document.delete(save=False)
        raise
    return request


def _decide(*, request: LegalRequest, actor: AuthUser, reason: str, approve: bool) -> LegalRequest:
    if not is_privacy_officer(actor):
        raise LegalRequestError("Only a Privacy Officer may approve or reject a legal request.")
    reason = reason.strip()
    if not reason:
        raise LegalRequestError("Give the reason for the decision.")
    with transaction.atomic():
        locked = LegalRequest.objects.select_for_update().get(pk=request.pk)
        if locked.logged_by_id == actor.pk:
            raise LegalRequestError(
                "You logged this request: another Privacy Officer must approve or reject it."
            )
        if locked.status != Status.AWAITING_APPROVAL:
            raise LegalRequestError(
                f"{locked.reference} is already {locked.get_status_display().lower()}."
            )
        locked.status = Status.APPROVED if approve else Status.REJECTED
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.decision_reason = reason
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        _step(locked, Step.APPROVED if approve else Step.REJECTED, actor, note=reason)
    return locked


def approve_legal_request(*, request: LegalRequest, actor: AuthUser, reason: str) -> LegalRequest:
    """A Privacy Officer other than the one who logged it approves the request, saying why
    (the order is valid, the scope is what it asks for)."""
    return _decide(request=request, actor=actor, reason=reason, approve=True)


def reject_legal_request(*, request: LegalRequest, actor: AuthUser, reason: str) -> LegalRequest:
    """A Privacy Officer other than the one who logged it rejects the request, saying why;
    it can never be fulfilled."""
    return _decide(request=request, actor=actor, reason=reason, approve=False)


def fulfil_legal_request(*, request: LegalRequest, actor: AuthUser) -> LegalRequest:
    """Fulfil an approved request: the export limited to its scope, stored privately, and one
    disclosure per person to the authority, in one transaction."""
    if not is_privacy_officer(actor):
        raise LegalRequestError("Only a Privacy Officer may fulfil a legal request.")
    with transaction.atomic():
        locked = (
            LegalRequest.objects.select_for_update(of=("self",))
            .select_related("authority")
            .get(pk=request.pk)
        )
        if locked.status == Status.AWAITING_APPROVAL:
            raise LegalRequestError(
                f"{locked.reference} has not been approved: a Privacy Officer other than the "
                "one who logged it must approve it first."
            )
        if locked.status == Status.REJECTED:
            raise LegalRequestError(f"{locked.reference} was rejected: it can't be fulfilled.")
        if locked.status == Status.FULFILLED:
            raise LegalRequestError(f"{locked.reference} has already been fulfilled.")
        people = list(locked.people.order_by("pk"))
        reference = f"{locked.reference} ({locked.authority_reference})"
        try:
            disclosures = record_disclosures(
                people=people,
                party=locked.authority,
                categories=locked.categories,
                purpose=DisclosurePurpose.LEGAL_OBLIGATION,
                legal_basis=LegalBasis.LEGAL_OBLIGATION,
                reference=reference[:REFERENCE_MAX],
                actor=actor,
            )
        except DisclosureRefused as error:
            raise LegalRequestError(str(error)) from error
        export = build_export(request=locked, people=people)
        content = json.dumps(export, indent=2, ensure_ascii=False).encode()
        digest = hashlib.sha256(content).hexdigest()
        locked.export.save(f"{uuid.uuid4().hex}-export.json", ContentFile(content), save=False)
        try:
            locked.status = Status.FULFILLED
            locked.fulfilled_by = actor
            locked.fulfilled_at = timezone.now()
            locked.export_sha256 = digest
            locked.save(
                update_fields=["status", "fulfilled_by", "fulfilled_at", "export", "export_sha256"]
            )
            _step(
                locked,
                Step.FULFILLED,
                actor,
                note=f"Export of {len(people)} people's data written; disclosures logged.",
                export_sha256=digest,
                disclosures=[disclosure.pk for disclosure in disclosures],
            )
        except BaseException:
            locked.export.delete(save=False)
            raise
    return locked


def open_order_document(*, request: LegalRequest, actor: AuthUser) -> File[Any]:
    """The order document, opened for a Privacy Officer; the download is recorded."""
    if not is_privacy_officer(actor):
        raise LegalRequestError("Only a Privacy Officer may read a legal request's documents.")
    with transaction.atomic():
        _step(request, Step.DOCUMENT_DOWNLOADED, actor)
    return request.document.open("rb")


def open_export(*, request: LegalRequest, actor: AuthUser) -> File[Any]:
    """A fulfilled request's export, opened for a Privacy Officer; the download is recorded."""
    if not is_privacy_officer(actor):
        raise LegalRequestError("Only a Privacy Officer may read a legal request's documents.")
    if request.status != Status.FULFILLED or not request.export:
        raise LegalRequestError(f"{request.reference} has not been fulfilled.")
    with transaction.atomic():
        _step(request, Step.EXPORT_DOWNLOADED, actor)
    return request.export.open("rb")

"""Keys the shop's systems call the API with, and the append-only record of what befell them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from rest_framework_api_key.models import AbstractAPIKey


class Scope(models.TextChoices):
    """What a key lets its system do: one scope per machine endpoint (or group of them).

    A new endpoint for the shop's systems gets a member here and names it as the
    ``api_key_scope`` of its permission class; a key holds only the scopes it was issued with.
    """

    CONSENTS_READ = "consents:read", "Read a person's consent record (GET /api/v1/consents/)"
    ORDERS_WRITE = "orders:write", "Send orders from the checkout (POST /api/v1/orders/)"


class SystemAPIKey(AbstractAPIKey):
    """One system's key. Only a hash of the secret is stored (``hashed_key``); the key itself is
    shown once, when it is issued. Never changed afterwards except to revoke it: a system that
    needs other scopes gets a new key and the old one is revoked."""

    scopes = models.JSONField(
        default=list, help_text="The scopes (Scope values) this key was issued with."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Updated at most once a minute (see services.note_key_use), so a busy system costs no
    # write per request.
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Not a column: the key itself, set by the admin on the row it has just issued so that
    # the next page shows it once (only its hash is stored).
    issued_secret: str

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "system API key"
        verbose_name_plural = "system API keys"
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(revoked=False, revoked_at__isnull=True, revoked_by__isnull=True)
                    | Q(revoked=True, revoked_at__isnull=False, revoked_by__isnull=False)
                ),
                name="api_keys_revocation_says_who_and_when",
            )
        ]

    @property
    def is_usable(self) -> bool:
        return not self.revoked and not self.has_expired

    def has_scope(self, scope: str) -> bool:
        """True for a usable key issued with ``scope``."""
        return self.is_usable and scope in self.scopes

    def scope_labels(self) -> list[str]:
        labels = dict(Scope.choices)
        return [labels.get(scope, scope) for scope in self.scopes]


class APIKeyEvent(models.Model):
    """The audit of keys: who issued or revoked which key, and every key refused, with the
    client address it came from. Written only by ``api_keys.services``; append-only (on
    PostgreSQL a trigger refuses ``UPDATE`` and ``DELETE``)."""

    class Kind(models.TextChoices):
        ISSUED = "issued", "Key issued"
        REVOKED = "revoked", "Key revoked"
        REFUSED = "refused", "Key refused"
        LIMITED = "limited", "Address blocked after failed attempts"

    class Reason(models.TextChoices):
        MALFORMED = "malformed", "Not a key"
        UNKNOWN = "unknown", "No such key"
        REVOKED = "revoked", "Revoked key"
        EXPIRED = "expired", "Expired key"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    key = models.ForeignKey(
        SystemAPIKey, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    # The member of staff who issued or revoked the key.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Why a key was refused (kinds refused and limited).
    reason = models.CharField(max_length=10, choices=Reason.choices, blank=True)
    # The prefix a refused caller presented, when it had a key's shape (the secret never).
    presented_prefix = models.CharField(max_length=8, blank=True)
    # The client as the failure limit counts it (an IPv6 client by its /64 network).
    client_address = models.CharField(max_length=64, blank=True)
    # The scopes a key was issued with, as they were.
    scopes = models.JSONField(default=list, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "API key event"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.occurred_at:%d %b %Y %H:%M})"

"""Settings the sharing app depends on, checked at start-up (``manage.py check``)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.checks import Warning as CheckWarning


@register(Tags.security, deploy=True)
def notices_can_be_signed(app_configs, **kwargs) -> list[CheckWarning]:
    """Without the key, no notice is posted to a party's endpoint: each waits and then
    fails, and the parties are not told of corrections and erasures."""
    if settings.SHARING_NOTIFICATION_SIGNING_KEY:
        return []
    return [
        CheckWarning(
            "SHARING_NOTIFICATION_SIGNING_KEY is not set: notices of corrections and erasures "
            "can't be posted to parties' endpoints.",
            hint="Set it to a long random value, and give each party with an endpoint its "
            'key (manage.py notification_signing_key "<party>").',
            id="sharing.W001",
        )
    ]


def _inside(path: Path, folder: str | Path | None) -> bool:
    if not folder:
        return False
    folder = Path(folder).resolve()
    return path == folder or folder in path.parents


@register()
def private_storage_is_not_public(app_configs, **kwargs) -> list[Error]:
    """Court orders and legal exports must never be reachable by URL: their folder may not be
    (or be inside) a folder served as media or static files."""
    private = Path(settings.PRIVATE_STORAGE_ROOT).resolve()
    served: list[str | Path | None] = [
        settings.MEDIA_ROOT,
        settings.STATIC_ROOT,
        # An entry may be (prefix, folder).
        *(entry[1] if isinstance(entry, tuple) else entry for entry in settings.STATICFILES_DIRS),
    ]
    if any(_inside(private, folder) for folder in served):
        return [
            Error(
                f"PRIVATE_STORAGE_ROOT ({private}) is inside a folder served to the public.",
                hint="Point PRIVATE_STORAGE_ROOT outside MEDIA_ROOT, STATIC_ROOT and "
                "STATICFILES_DIRS.",
                id="sharing.E001",
            )
        ]
    return []


@register()
def claims_outlast_a_send(app_configs, **kwargs) -> list[Error]:
    """A notice being posted must not be taken back by the sweep while its worker still
    waits for the party: the claim timeout has to outlast the request's two timeouts."""
    timeout = settings.SHARING_NOTIFICATION_SENDING_TIMEOUT
    longest = 2 * settings.SHARING_NOTIFICATION_TIMEOUT + 30
    if timeout <= longest:
        return [
            Error(
                f"SHARING_NOTIFICATION_SENDING_TIMEOUT ({timeout}s) must be longer than "
                f"{longest:g}s (twice SHARING_NOTIFICATION_TIMEOUT, plus 30s).",
                id="sharing.E002",
            )
        ]
    return []

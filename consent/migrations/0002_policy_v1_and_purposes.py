"""The first policy version (the text in consent/policy/) and the purposes it names."""

import datetime
from pathlib import Path

from django.db import migrations

POLICY_V1 = Path(__file__).resolve().parent.parent / "policy" / "privacy-policy-v1.txt"

PURPOSES = [
    {
        "code": "newsletter",
        "name": "Newsletter",
        "wording": "Send me the Jessops newsletter about products, services and special deals.",
        "is_optional": True,
        "mandatory_reason": "",
    },
    {
        "code": "special_offers",
        "name": "Special offers and updates",
        "wording": "Send me special offers and updates from Jessops by email.",
        "is_optional": True,
        "mandatory_reason": "",
    },
    {
        "code": "surveys",
        "name": "Surveys and contests",
        "wording": (
            "Invite me to Jessops surveys and contests. Taking part is always voluntary; "
            "if I win, my contact details may be shared with the sponsor to award the prize."
        ),
        "is_optional": True,
        "mandatory_reason": "",
    },
    {
        "code": "partner_photo",
        "name": "Jessops Photo offers (CEWE)",
        "wording": (
            "Send me Jessops Photo printing offers. Jessops Photo is provided by our partner "
            "CEWE, who may use my details only to provide that service."
        ),
        "is_optional": True,
        "mandatory_reason": "",
    },
    {
        "code": "service_announcements",
        "name": "Service announcements",
        "wording": (
            "Strictly service-related announcements, for example when the site is suspended "
            "for maintenance. They are never promotional."
        ),
        "is_optional": False,
        "mandatory_reason": (
            "Service announcements cannot be switched off while you have an account. "
            "They stop if you deactivate your account."
        ),
    },
]


def load(apps, schema_editor):
    PolicyVersion = apps.get_model("consent", "PolicyVersion")
    Purpose = apps.get_model("consent", "Purpose")
    version = PolicyVersion.objects.create(
        number=1,
        effective_date=datetime.date(2026, 1, 1),
        text=POLICY_V1.read_text(encoding="utf-8"),
        summary="First published version.",
        change_type="editorial",
        is_current=True,
    )
    for order, fields in enumerate(PURPOSES):
        Purpose.objects.create(introduced_in=version, display_order=order, **fields)


def unload(apps, schema_editor):
    apps.get_model("consent", "Purpose").objects.all().delete()
    apps.get_model("consent", "PolicyVersion").objects.filter(number=1).delete()


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]

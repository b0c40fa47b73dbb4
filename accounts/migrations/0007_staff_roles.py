"""The staff roles: a group per job holding exactly the permissions the job needs.

The table is the roles as first defined, kept here as history; ``accounts.staff_roles`` is the
current one, and ``python manage.py staff_roles`` brings the groups up to date with it.
Permissions are created here first (Django otherwise creates them after every migration has
run), so a new database gets complete groups.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    # Find a customer, see contact details and preferences, record a preference change on
    # the customer's behalf, log privacy requests.
    "Customer Support": (
        "accounts.view_user",
        "accounts.view_profile",
        "accounts.view_addressverification",
        "account.view_emailaddress",
        "consent.view_purpose",
        "consent.view_consentevent",
        "consent.add_consentevent",
        "consent.view_currentconsent",
        "accounts.view_privacyrequest",
        "accounts.add_privacyrequest",
    ),
    # Orders, and the ordering customer's name, email and phone; no consent changes.
    "Web Sales": ("sharing.view_order",),
    # Name and postal address on orders only.
    "Dispatch": ("sharing.view_order",),
    # Campaigns, their previews and statistics; recipients only masked, audiences as counts.
    "Marketing": (
        "consent.view_purpose",
        "communications.view_campaign",
        "communications.add_campaign",
        "communications.change_campaign",
        "communications.send_campaign",
        "communications.view_delivery",
        "communications.view_referral",
        "surveys.view_survey",
        "surveys.add_survey",
        "surveys.change_survey",
        "surveys.view_sponsorstatement",
        "surveys.view_results",
        "surveys.draw_winners",
    ),
    # Policy versions, privacy and legal requests, the register of third parties, the
    # disclosure log and the audit trails.
    "Privacy Officer": (
        "consent.view_policyversion",
        "consent.add_policyversion",
        "consent.view_policydraft",
        "consent.add_policydraft",
        "consent.change_policydraft",
        "communications.view_policypublication",
        "communications.view_businesstransition",
        "communications.add_businesstransition",
        "consent.view_purpose",
        "consent.add_purpose",
        "consent.change_purpose",
        "consent.view_consentevent",
        "consent.view_currentconsent",
        "consent.view_cookieconsent",
        "communications.view_suppression",
        "communications.add_suppression",
        "communications.delete_suppression",
        "communications.view_suppressionlift",
        "accounts.view_user",
        "accounts.view_profile",
        "accounts.view_addressverification",
        "account.view_emailaddress",
        "accounts.view_auditevent",
        "accounts.view_privacyrequest",
        "accounts.add_privacyrequest",
        "accounts.fulfil_privacyrequest",
        "sharing.view_thirdparty",
        "sharing.add_thirdparty",
        "sharing.change_thirdparty",
        "sharing.view_thirdpartychange",
        "sharing.view_disclosure",
        "sharing.view_recipientnotification",
        "sharing.record_recipientnotification",
        "sharing.view_legalrequest",
        "sharing.add_legalrequest",
        "sharing.approve_legalrequest",
        "sharing.view_photoservicemembership",
        "sharing.view_businesstransfer",
        "sharing.change_businesstransfer",
        "sharing.view_suppliersite",
        "sharing.add_suppliersite",
        "sharing.view_aggregatereport",
        "sharing.generate_aggregatereport",
        "sharing.view_aggregatedisclosure",
        "surveys.view_survey",
        "surveys.view_sponsorstatement",
        "surveys.view_winner_contacts",
        "communications.view_marketingevent",
        "staff_access.view_staffaccess",
        "staff_access.view_staffsigninevent",
    ),
}


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        found = []
        for perm in perms:
            app_label, codename = perm.split(".")
            found.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(found)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_user_erased_stays_inactive"),
        ("account", "0009_emailaddress_unique_primary_email"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("consent", "0010_published_policy_unchangeable"),
        ("communications", "0015_marketing_events"),
        ("sharing", "0010_photo_leave_notices"),
        ("surveys", "0002_append_only_records"),
        ("staff_access", "0002_append_only_and_person_index"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]

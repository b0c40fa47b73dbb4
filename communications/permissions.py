"""Who may build, send and watch campaigns, and the one way staff code looks a campaign up.

Campaigns are staff work: every rule below needs an active staff account *and* a Django model
permission, the same ones the admin asks for, so a role set up in the admin works in the API.
Recipients' addresses are never shown to campaign staff: ``addresses.mask_addresses_in`` masks
any that slip into free text (a provider's bounce message quotes the address it refused).
"""

from __future__ import annotations

from django.http import Http404
from rest_framework.permissions import BasePermission

from communications.models import Campaign
from privacy_site.auth_user import AuthUser
from privacy_site.numbers import whole_number
from privacy_site.staff import is_active_staff

VIEW_CAMPAIGN = "communications.view_campaign"
ADD_CAMPAIGN = "communications.add_campaign"
CHANGE_CAMPAIGN = "communications.change_campaign"
SEND_CAMPAIGN = "communications.send_campaign"
VIEW_DELIVERY = "communications.view_delivery"

# What each action of the campaign API needs; an action not named here is refused.
ACTION_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "list": (VIEW_CAMPAIGN,),
    "retrieve": (VIEW_CAMPAIGN,),
    "metadata": (VIEW_CAMPAIGN,),
    "preview": (VIEW_CAMPAIGN,),
    "deliveries": (VIEW_CAMPAIGN, VIEW_DELIVERY),
    "create": (ADD_CAMPAIGN,),
    "partial_update": (CHANGE_CAMPAIGN,),
    "test": (VIEW_CAMPAIGN, SEND_CAMPAIGN),
    "schedule": (VIEW_CAMPAIGN, SEND_CAMPAIGN),
    "send": (VIEW_CAMPAIGN, SEND_CAMPAIGN),
    "pause": (VIEW_CAMPAIGN, SEND_CAMPAIGN),
    "resume": (VIEW_CAMPAIGN, SEND_CAMPAIGN),
    "cancel": (VIEW_CAMPAIGN, SEND_CAMPAIGN),
}


class CampaignPermission(BasePermission):
    """Staff status plus the model permissions ``ACTION_PERMISSIONS`` names for the action."""

    message = (
        "Campaigns need staff status and the matching permission: communications.view_campaign "
        "to read, add_campaign to create, change_campaign to edit, send_campaign to test, "
        "schedule, send, pause, resume or cancel; deliveries also need view_delivery."
    )

    def has_permission(self, request, view) -> bool:
        perms = ACTION_PERMISSIONS.get(getattr(view, "action", None) or "")
        return perms is not None and is_active_staff(request.user, *perms)


def campaign_get(*, id: int | str, actor: AuthUser) -> Campaign:
    """The campaign ``id`` for a member of staff allowed to read campaigns.

    Missing and forbidden look the same (404), so a refused caller learns nothing.
    """
    if not is_active_staff(actor, VIEW_CAMPAIGN) or whole_number(id) is None:
        raise Http404("No such campaign.")
    campaign = Campaign.objects.select_related("purpose").filter(pk=id).first()
    if campaign is None:
        raise Http404("No such campaign.")
    return campaign

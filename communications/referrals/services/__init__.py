"""Every write of the wishlist referrals: sending (the customer's request), delivering (the
worker), tracking (clicks and sign-ups) and sweeping (sends given up)."""

from .delivering import deliver_referral
from .sending import ReferralRefused, TooManyReferrals, send_wishlist
from .sweeping import sweep_referrals
from .tracking import record_click, record_signup

__all__ = [
    "ReferralRefused",
    "TooManyReferrals",
    "deliver_referral",
    "record_click",
    "record_signup",
    "send_wishlist",
    "sweep_referrals",
]

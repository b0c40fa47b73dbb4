from django.urls import include, path

from .views import newsletter, preferences

urlpatterns = [
    path("preferences/", preferences.preference_centre, name="preferences"),
    path(
        "preferences/<str:token>/",
        preferences.preference_centre_by_token,
        name="preferences-token",
    ),
    path("unsubscribe/<str:token>/", preferences.unsubscribe, name="unsubscribe"),
    path("newsletter/", newsletter.signup, name="newsletter"),
    path("newsletter/confirm/<str:token>/", newsletter.confirm, name="newsletter-confirm"),
    path("", include("communications.urls_policy")),
    path("", include("communications.referrals.urls")),
]

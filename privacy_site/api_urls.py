"""Version 1 of the REST API: each app contributes its routes under /api/v1/."""

from django.urls import include, path

urlpatterns = [
    path("", include("consent.api")),
    path("", include("communications.preferences_api")),
    path("", include("communications.api")),
    path("", include("sharing.orders_api")),
]

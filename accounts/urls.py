"""Our own account pages, mounted at /accounts/ before django-allauth's."""

from django.urls import path

from . import views

urlpatterns = [
    path("profile/", views.profile, name="account_profile"),
]

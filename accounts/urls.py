"""Our own account pages, mounted at /accounts/ before django-allauth's."""

from django.urls import path

from . import views

urlpatterns = [
    path("profile/", views.profile, name="account_profile"),
    path("export/", views.export, name="account_export"),
    path("deactivate/", views.deactivate, name="account_deactivate"),
    path("delete/", views.delete, name="account_delete"),
]

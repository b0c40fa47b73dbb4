"""Our own account pages, mounted at /accounts/ before django-allauth's: our pages, and the
allauth pages we changed (same paths and names as allauth's, so allauth's links still work)."""

from django.urls import path, re_path

from . import views

urlpatterns = [
    path("profile/", views.profile, name="account_profile"),
    path("export/", views.export, name="account_export"),
    path("deactivate/", views.deactivate, name="account_deactivate"),
    path("delete/", views.delete, name="account_delete"),
    # allauth's own patterns, to our subclasses of its views.
    re_path(
        r"^confirm-email/(?P<key>[-:\w]+)/$",
        views.ConfirmEmailView.as_view(),
        name="account_confirm_email",
    ),
    path("email/", views.EmailView.as_view(), name="account_email"),
    path("password/change/", views.PasswordChangeView.as_view(), name="account_change_password"),
    path("password/set/", views.PasswordSetView.as_view(), name="account_set_password"),
    re_path(
        r"^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$",
        views.PasswordResetFromKeyView.as_view(),
        name="account_reset_password_from_key",
    ),
]

from django.urls import path

from .views import cookies, notices, policy

urlpatterns = [
    path("privacy/", policy.current, name="privacy"),
    path("privacy/<int:number>/", policy.version, name="privacy-version"),
    path("privacy/notice/<int:number>/dismiss/", notices.dismiss, name="policy-notice-dismiss"),
    path("cookies/", cookies.cookie_preferences, name="cookies"),
]

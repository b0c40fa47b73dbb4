from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from . import views

admin.site.site_header = "Jessops privacy administration"
admin.site.site_title = "Privacy admin"
# Staff sign in through allauth's login, like everyone, so the second factor is asked (and
# django-axes' lockout applies); /admin/login/ sends them there and back.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

# JSON under /api/ (every API answer is JSON, errors included), the usual pages elsewhere.
handler400 = views.bad_request
handler403 = views.permission_denied
handler404 = views.page_not_found
handler500 = views.server_error

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),  # ours first: /accounts/profile/ etc.
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("privacy_site.api_urls")),
    path("api/schema/", views.ApiSchemaView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file of its own (no inline script).
    path("api/docs/", views.ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    # Only the providers in use, and only with their secret: see communications/webhook_urls.py.
    path("anymail/", include("communications.webhook_urls")),
    path("", include("consent.urls")),
    path("", include("communications.urls")),
    path("", include("sharing.urls")),
    path("", include("surveys.urls")),
]

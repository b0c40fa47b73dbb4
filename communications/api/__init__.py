"""The communications app's REST endpoints, under /api/v1/ (``privacy_site.api_urls``): the
campaigns (``campaigns``). The preference endpoints are ``communications.preferences_api``."""

from rest_framework.routers import SimpleRouter

from .campaigns import CampaignViewSet

router = SimpleRouter()
router.register("campaigns", CampaignViewSet, basename="api-campaign")

urlpatterns = router.urls

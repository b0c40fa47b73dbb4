from django.urls import path

from .views import policy, policy_history

urlpatterns = [
    path("privacy/history/", policy_history.history, name="privacy-history"),
    path("privacy/choices/", policy.choice, name="policy-choice"),
    path("privacy/choices/<str:token>/", policy.choice_by_token, name="policy-choice-token"),
]

from django.urls import path

from . import views

urlpatterns = [
    path("wishlist/send/", views.send, name="wishlist-send"),
    path("wishlist/sent/", views.sent, name="wishlist-sent"),
    path("wishlist/from/<str:token>/", views.link, name="referral-link"),
]

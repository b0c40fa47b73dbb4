from django.urls import path

from . import views

urlpatterns = [
    path("my-data/", views.my_data, name="my-data"),
]

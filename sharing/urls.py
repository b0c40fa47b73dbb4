from django.urls import path

from . import photo_views, views

urlpatterns = [
    path("my-data/", views.my_data, name="my-data"),
    path("my-data/jessops-photo/", photo_views.jessops_photo, name="jessops-photo"),
]

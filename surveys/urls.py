from django.urls import path

from . import views

app_name = "surveys"

urlpatterns = [
    path("surveys/", views.survey_list, name="list"),
    path("surveys/<int:survey_id>/", views.take_survey, name="take"),
]

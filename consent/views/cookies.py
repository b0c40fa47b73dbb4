"""Placeholder module: its owner replaces it."""

from django.http import Http404


def cookie_preferences(request, **kwargs):
    raise Http404

"""Placeholder module: its owner replaces it."""

from django.http import Http404


def preference_centre(request, **kwargs):
    raise Http404


def preference_centre_by_token(request, **kwargs):
    raise Http404


def unsubscribe(request, **kwargs):
    raise Http404

"""Placeholder module: its owner replaces it."""

from django.http import Http404


def signup(request, **kwargs):
    raise Http404


def confirm(request, **kwargs):
    raise Http404

"""Placeholder module: its owner replaces it."""

from django.http import Http404


def current(request, **kwargs):
    raise Http404


def history(request, **kwargs):
    raise Http404


def version(request, **kwargs):
    raise Http404

"""The API side of need to know: a serializer leaves out, or masks, the fields its model's
declaration (``privacy_site.need_to_know``) keeps from the one asking.

``class ConsentRecordEventSerializer(NeedToKnowSerializer, serializers.Serializer)`` with
``need_to_know_model = "consent.ConsentEvent"``; each field is checked by its ``source``
(``actor.email`` is the path ``actor__email``), a ``SerializerMethodField`` by its method's
``@shows(...)``. The view passes the request, and the API key if one was used, in the
serializer's context (``need_to_know_context(request)``); without them nothing declared is
shown.

Any app's API may import this module; it imports nothing from the apps.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

from privacy_site.need_to_know import Viewer, mask_of_path, paths_shown_by, viewer_of

API_KEY = "api_key"


def need_to_know_context(request: Request, *, api_key: object = None) -> dict[str, object]:
    return {"request": request, API_KEY: api_key}


class NeedToKnowSerializer(serializers.Serializer):
    need_to_know_model: str

    def _viewer(self) -> Viewer:
        context = self.context
        return viewer_of(context.get("request"), api_key=context.get(API_KEY))

    def _paths(self, name: str, field: serializers.Field) -> tuple[str, ...]:
        if isinstance(field, serializers.SerializerMethodField):
            method = getattr(self, field.method_name or f"get_{name}", None)
            return paths_shown_by(method)
        source = field.source or name
        return () if source == "*" else (source.replace(".", "__"),)

    def to_representation(self, instance: Any) -> Any:
        data = super().to_representation(instance)
        viewer = self._viewer()
        for name, field in self.fields.items():
            paths = self._paths(name, field)
            if not paths or viewer.may_see_all(self.need_to_know_model, paths):
                continue
            mask = (
                mask_of_path(viewer, self.need_to_know_model, paths[0]) if len(paths) == 1 else None
            )
            way = "__".join(paths[0].split("__")[:-1])
            if way and not viewer.may_see_path(self.need_to_know_model, way):
                mask = None
            if mask is not None and data.get(name) not in (None, ""):
                data[name] = mask(data[name])
            else:
                data.pop(name, None)
        return data

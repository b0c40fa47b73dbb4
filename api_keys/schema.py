"""The Api-Key security scheme in the OpenAPI schema (drf-spectacular), listed on the
operations whose permission accepts a key's scope."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from api_keys.permissions import accepted_scopes

SCHEME = "ApiKeyAuth"


class APIKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api_keys.authentication.APIKeyAuthentication"
    name = SCHEME

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "For the shop's systems: `Authorization: Api-Key <key>`, a per-system key "
                "issued by staff in the admin. Each key holds scopes; an operation that "
                "accepts keys names the scope it needs."
            ),
        }

    def get_security_requirement(self, auto_schema):
        # OpenAPI 3.0 allows no scope list on an apiKey requirement: the scope is named in
        # the operation's description.
        return {SCHEME: []} if accepted_scopes(auto_schema.view) else None

"""The OpenAPI schema and its documentation pages (drf-spectacular)."""

SPECTACULAR_SETTINGS = {
    "TITLE": "Privacy site API",
    "DESCRIPTION": "Consent, preferences, campaigns and disclosures for the shop's systems.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # /api/docs/ loads its scripts and styles from our static files, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Without deep links each operation's summary is one button with no link nested inside it,
    # which a keyboard or screen reader can use (axe: nested-interactive).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False},
    # Stable enum names, so another app's "source" field can't clash with the consent ledger's.
    "ENUM_NAME_OVERRIDES": {
        "ConsentSourceEnum": "consent.models.ConsentSource",
        "LegalBasisEnum": "consent.models.ConsentEvent.LegalBasis",
    },
}

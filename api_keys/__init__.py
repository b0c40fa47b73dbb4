"""API keys for the shop's systems: hashed, named, scoped, revocable (djangorestframework-api-key).

The lowest of our apps: it knows nothing of consent, email or third parties, and every app
above may import it to let a key with the right scope through one of its endpoints.
"""

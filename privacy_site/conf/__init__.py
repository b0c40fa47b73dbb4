"""The settings no environment variable changes, one module per topic.

``privacy_site/settings.py`` imports every one of them and adds what the environment decides:
it is the only settings module that reads the environment, so the README's "Configuration"
table can be checked against it.
"""

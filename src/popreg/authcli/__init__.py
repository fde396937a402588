"""Django's own user commands (``createsuperuser``, ``changepassword``), audited.

This app holds nothing else: it is listed before ``django.contrib.auth`` in
``INSTALLED_APPS`` so that its commands take the place of Django's, which create users and
change passwords without an audit record.
"""

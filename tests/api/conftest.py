import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The shared ``users`` fixture hashes six passwords; PBKDF2 makes that seconds."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

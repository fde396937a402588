"""Login and sessions: lockout after repeated failures (form and API tokens), the client
address behind a proxy, password rules, idle timeout, the second factor in production."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import RequestFactory

from ..conftest import PASSWORD


@pytest.fixture
def lockout(settings):
    settings.AXES_FAILURE_LIMIT = 5
    return 5


def _login(client, username, password, **extra):
    return client.post("/login/", {"username": username, "password": password}, **extra)


def test_form_lockout_after_repeated_failures(client, users, lockout):
    for _ in range(lockout - 1):
        r = _login(client, "clerk_a1", "wrong-password-1")
        assert r.status_code == 200 and "_auth_user_id" not in client.session
    r = _login(client, "clerk_a1", "wrong-password-1")
    assert r.status_code == 429
    # the right password is refused until the cool-off has passed
    r = _login(client, "clerk_a1", PASSWORD)
    assert r.status_code == 429 and "_auth_user_id" not in client.session
    assert "登录失败次数过多" in r.content.decode()


def test_lockout_ends_after_the_cool_off(client, users, lockout):
    from axes.models import AccessAttempt

    for _ in range(lockout):
        _login(client, "clerk_a1", "wrong-password-1")
    assert _login(client, "clerk_a1", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(hours=1))
    r = _login(client, "clerk_a1", PASSWORD)
    assert r.status_code == 302 and client.session["_auth_user_id"] == str(users["clerk_a1"].pk)


def test_lockout_of_a_user_name_holds_from_another_address(client, users, lockout):
    for _ in range(lockout):
        _login(client, "clerk_a1", "wrong-password-1", REMOTE_ADDR="10.0.0.1")
    assert _login(client, "clerk_a1", PASSWORD, REMOTE_ADDR="10.0.0.2").status_code == 429
    # another user at another address is not affected
    assert _login(client, "clerk_b1", PASSWORD, REMOTE_ADDR="10.0.0.3").status_code == 302


def test_api_lockout_after_repeated_failed_tokens(client, actors, lockout):
    from popreg.registry.actions import do_create_api_token

    _, secret = do_create_api_token(actors["clerk_a1"], "script")
    good = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert client.get("/api/units", **good).status_code == 200
    for _ in range(lockout - 1):
        assert client.get("/api/units", HTTP_AUTHORIZATION="Bearer prg_guess").status_code == 401
    assert client.get("/api/units", HTTP_AUTHORIZATION="Bearer prg_guess").status_code == 429
    # the good token is refused until the cool-off has passed
    assert client.get("/api/units", **good).status_code == 429
    # another address is not locked out by these guesses
    assert client.get("/api/units", REMOTE_ADDR="10.9.9.9", **good).status_code == 200


def test_client_address_behind_a_trusted_proxy(settings):
    from popreg.registry.login_security import client_ip

    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1",
                                   HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    settings.POPREG_TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "127.0.0.1"
    settings.POPREG_TRUSTED_PROXY_COUNT = 1  # nginx appended the client it saw; 6.6.6.6 is forged
    assert client_ip(request) == "203.0.113.7"
    settings.POPREG_TRUSTED_PROXY_COUNT = 2
    assert client_ip(request) == "6.6.6.6"


def test_form_lockout_counts_the_forwarded_client(client, users, lockout, settings):
    settings.POPREG_TRUSTED_PROXY_COUNT = 1
    for i in range(lockout):
        _login(client, f"nobody{i}", "wrong-password-1", HTTP_X_FORWARDED_FOR="203.0.113.7")
    # the address is locked out, also for a user who never failed
    assert _login(client, "clerk_b1", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    assert _login(client, "clerk_b1", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 302


@pytest.mark.parametrize("password", [
    "12345678", "password", "short-1", "password1234", "woaini1314", "Zhang123456", "popreg123456",
    "qwertyuiop123",
])
def test_weak_passwords_are_refused(db, password):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        validate_password(password)


def test_a_long_uncommon_password_is_accepted(db):
    from django.contrib.auth.password_validation import validate_password

    validate_password("晴天-river-4471-lantern")


def test_production_settings_hash_with_argon2():
    from django.conf import settings as django_settings

    from popreg.web import settings as production

    assert production.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    assert django_settings.AUTHENTICATION_BACKENDS[0].endswith("LockoutBackend")


def test_argon2_hashes_and_checks(settings):
    from django.contrib.auth.hashers import check_password, make_password

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    encoded = make_password("晴天-river-4471-lantern")
    assert encoded.startswith("argon2$")
    assert check_password("晴天-river-4471-lantern", encoded)


def test_idle_session_timeout_applied(client, users):
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from popreg.web import settings as production

    assert production.POPREG_SESSION_IDLE_MINUTES == 30 and production.SESSION_COOKIE_AGE == 30 * 60
    assert _login(client, "clerk_a1", PASSWORD).status_code == 302
    assert client.session.get_expiry_age() == 30 * 60
    key = client.session.session_key
    r = client.get("/")
    assert r.status_code == 200 and r.cookies["sessionid"]["max-age"] == 30 * 60
    first = Session.objects.get(session_key=key).expire_date
    # within the minute a request does not write the session again
    assert "sessionid" not in client.get("/").cookies
    # later requests push the deadline forward
    session = client.session
    session["_renewed"] = 0
    session.save()
    Session.objects.filter(session_key=key).update(expire_date=first - timedelta(minutes=10))
    assert client.get("/").cookies["sessionid"]["max-age"] == 30 * 60
    assert Session.objects.get(session_key=key).expire_date >= first
    # a session idle past its deadline has ended: the next page asks to log in
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    r = client.get("/")
    assert r.status_code == 302 and r["Location"].startswith("/login/")

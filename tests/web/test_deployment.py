"""The production profile (docs/operations.md#deployment): with its own secret key and host
names ``popreg check --deploy --fail-level WARNING`` passes; without them popreg refuses to
start and says which setting to set; collectstatic prepares the files WhiteNoise serves."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import pytest

PRODUCTION_KEY = secrets.token_urlsafe(64)


def _popreg(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("POPREG_", "DATABASE_URL"))}
    base.pop("DJANGO_SETTINGS_MODULE", None)
    base.update(DATABASE_URL=f"sqlite:///{tmp_path / 'scratch.sqlite3'}", POPREG_HOME=str(tmp_path / "home"))
    base.update(env)
    return subprocess.run([sys.executable, "-m", "popreg.cli", *args], env=base, capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)


def _production(**extra: str) -> dict[str, str]:
    return {"POPREG_DEPLOYMENT": "production", "POPREG_SECRET_KEY": PRODUCTION_KEY,
            "POPREG_ALLOWED_HOSTS": "popreg.example.gov.cn", **extra}


def test_production_profile_passes_the_deployment_check(tmp_path):
    done = _popreg(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **_production())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_development_profile_fails_the_same_check(tmp_path):
    """The check is not vacuous: the development profile's public key and plain HTTP fail it."""
    done = _popreg(tmp_path, "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W009", "security.W012", "security.W016"):
        assert warning in done.stderr, warning


def test_production_settings(tmp_path):
    code = ("from django.conf import settings as s; import json; print(json.dumps([s.SECURE_SSL_REDIRECT,"
            " s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SESSION_COOKIE_SECURE,"
            " s.CSRF_COOKIE_SECURE, s.DEBUG, s.ALLOWED_HOSTS, s.SECURE_PROXY_SSL_HEADER]))")
    done = _popreg(tmp_path, "shell", "-c", code, **_production(POPREG_PROXY_SSL_HEADER="1"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [
        True, 31536000, True, True, True, False, ["popreg.example.gov.cn"], ["HTTP_X_FORWARDED_PROTO", "https"]]


@pytest.mark.parametrize("env, setting", [
    ({"POPREG_SECRET_KEY": ""}, "POPREG_SECRET_KEY"),
    ({"POPREG_SECRET_KEY": "popreg-development-key-change-me-in-production"}, "POPREG_SECRET_KEY"),
    ({"POPREG_ALLOWED_HOSTS": ""}, "POPREG_ALLOWED_HOSTS"),
    ({"POPREG_DEPLOYMENT": "prod"}, "POPREG_DEPLOYMENT"),
    ({"POPREG_SSL_REDIRECT": "maybe"}, "POPREG_SSL_REDIRECT"),
], ids=["no-key", "development-key", "no-hosts", "unknown-profile", "bad-flag"])
def test_production_refuses_to_start_without_its_settings(tmp_path, env, setting):
    done = _popreg(tmp_path, "check", **_production(**env))
    assert done.returncode != 0
    assert setting in done.stderr
    assert "Traceback" not in done.stderr  # the message, not a stack
    message = done.stderr.strip().splitlines()[-1]
    assert " / " in message and any("\u4e00" <= ch <= "\u9fff" for ch in message)  # Chinese / English


def test_wsgi_application_refuses_without_a_key(tmp_path):
    """gunicorn imports popreg.web.wsgi: it fails to boot, naming the setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POPREG_")}
    env.update(POPREG_DEPLOYMENT="production", POPREG_ALLOWED_HOSTS="popreg.example.gov.cn",
               DATABASE_URL=f"sqlite:///{tmp_path / 'scratch.sqlite3'}")
    done = subprocess.run([sys.executable, "-c", "import popreg.web.wsgi"], env=env, capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert done.returncode != 0 and "ImproperlyConfigured" in done.stderr and "POPREG_SECRET_KEY" in done.stderr


def test_collectstatic_writes_hashed_compressed_files(tmp_path):
    done = _popreg(tmp_path, "collectstatic", "--noinput", "-v", "0", **_production())
    assert done.returncode == 0, done.stderr
    static = tmp_path / "home" / "static"
    manifest = json.loads((static / "staticfiles.json").read_text())["paths"]
    for name in ("popreg/popreg.css", "popreg/stats-charts.js", "vendor/chart.js-4.6.1/chart.umd.js"):
        hashed = static / manifest[name]
        assert hashed.is_file() and hashed.name != name.rsplit("/", 1)[-1]
        assert hashed.with_name(hashed.name + ".gz").is_file()

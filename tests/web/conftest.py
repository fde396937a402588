"""Web fixtures: logged-in clients per role (on top of tests/conftest.py)."""

from __future__ import annotations

import pytest

from ..conftest import PASSWORD


@pytest.fixture
def login(client, users):
    """login("clerk_a1") → the test client, logged in as that user."""

    def _login(username: str):
        assert client.login(username=username, password=PASSWORD)
        return client

    return _login


@pytest.fixture
def counts():
    """Snapshot of row counts that a refused write must leave unchanged (signing in, which
    the test's ``login`` does in between, is audited and not counted)."""
    from popreg.registry.audit import AuditAction
    from popreg.registry.models import AuditRecord, Event, Household, Person

    signing = [AuditAction.LOGIN, AuditAction.LOGOUT, AuditAction.LOGIN_FAILED]

    def _counts():
        return (Person.objects.count(), Event.objects.count(),
                AuditRecord.objects.exclude(action__in=signing).count(), Household.objects.count())

    return _counts

"""Fixtures of the API tests: a manager's and a rep's API client."""

import pytest


@pytest.fixture
def manager_api(api_client, manager_user):
    api_client.force_authenticate(manager_user)
    return api_client

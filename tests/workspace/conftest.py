import pytest


@pytest.fixture
def grid(db):
    from tests.factories import unit_grid_scenario

    return unit_grid_scenario()


@pytest.fixture
def manager_api(api_client, manager_user):
    api_client.force_authenticate(manager_user)
    return api_client

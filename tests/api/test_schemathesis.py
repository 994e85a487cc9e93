"""Property-based run of the whole API against its own OpenAPI schema: no 5xx, no response that contradicts it."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis import checks as schemathesis_checks
from schemathesis.specs.openapi import checks as openapi_checks

from core.tokens import api_token_create

MAX_EXAMPLES = 12


@pytest.fixture
def api_schema(db):
    from django.core.wsgi import get_wsgi_application
    from drf_spectacular.generators import SchemaGenerator

    spec = SchemaGenerator(api_version="v1").get_schema(request=None, public=True)
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    spec = json.loads(json.dumps(spec, cls=DjangoJSONEncoder))
    loaded = schemathesis.openapi.from_dict(spec)
    loaded.app = get_wsgi_application()
    # As Django's test client does: keep the test's transaction open across in-process requests.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield loaded
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def manager_token(db, manager_user):
    return api_token_create(user=manager_user, name="schemathesis")[1]


CHECKS = [schemathesis_checks.not_a_server_error, openapi_checks.status_code_conformance,
          openapi_checks.content_type_conformance, openapi_checks.response_schema_conformance]


@pytest.mark.django_db
def test_api_conforms_to_its_schema(api_schema, manager_token):
    # schemathesis' own pytest plugin does not run on pytest 9 yet, so each operation gets a hypothesis run here.
    headers = {"Authorization": f"Bearer {manager_token}"}
    failures, operations = [], 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:
            failures.append(f"{operation.label}: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}")
    assert operations > 5
    assert not failures, "\n".join(failures)

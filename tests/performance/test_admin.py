"""The admin lists and edits performance records; snapshots are read-only and can be queued for recompute."""

import pytest

from core.models import Job
from performance.models import KpiSnapshot
from performance.services.kpis import kpi_recompute

pytestmark = pytest.mark.django_db


def test_admin_pages_for_every_performance_model(client, admin_user, world):
    kpi_recompute(scenario=world.scenario, period=world.period)
    client.force_login(admin_user)
    for model in ("quota", "activity", "opportunity", "kpisnapshot"):
        assert client.get(f"/admin/performance/{model}/").status_code == 200, model
    snapshot = KpiSnapshot.objects.filter(scenario=world.scenario).first()
    assert client.get(f"/admin/performance/kpisnapshot/{snapshot.pk}/change/").status_code == 200
    assert client.get("/admin/performance/kpisnapshot/add/").status_code == 403
    quota = world.l1.quotas.first()
    assert client.get(f"/admin/performance/quota/{quota.pk}/change/").status_code == 200


def test_admin_action_queues_a_recompute_per_period(client, admin_user, world, django_capture_on_commit_callbacks):
    kpi_recompute(scenario=world.scenario, period=world.period)
    client.force_login(admin_user)
    ids = list(KpiSnapshot.objects.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/admin/performance/kpisnapshot/", {"action": "recompute_periods",
                                                                   "_selected_action": ids})
    assert response.status_code == 302
    job = Job.objects.get(kind=Job.Kind.KPI_RECOMPUTE)
    assert (job.params["period_start"], job.params["period_end"]) == ("2024-07-01", "2024-09-30")

"""Celery entry points for territories: thin wrappers that take ids and call the services."""

from contextlib import contextmanager
from types import SimpleNamespace

from celery import shared_task

from core.services import job_run


@shared_task
def scenario_activation_due_task() -> list[int]:
    """Run every minute by beat (see migration 0003): activate the scenarios whose time has come."""
    from territories.services.scenarios import scenario_activate_due

    return scenario_activate_due()


@shared_task(acks_late=True)
def geo_unit_import_task(
    job_id: int,
    path: str,
    layer_name: str,
    code_field: str,
    name_field: str = "",
    kind: str = "",
    repair: bool = True,
    skip_bad_features: bool = True,
) -> None:
    from territories.services.geo_units import geo_unit_import

    def work(job, progress):
        return geo_unit_import(
            path=path,
            layer_name=layer_name,
            code_field=code_field,
            name_field=name_field,
            kind=kind,
            repair=repair,
            skip_bad_features=skip_bad_features,
            progress=progress,
        )

    job_run(job_id=job_id, work=work)


@contextmanager
def _acting_as(user):
    """Attribute the history rows a job writes to whoever queued it (there is no request in a worker)."""
    from simple_history.models import HistoricalRecords

    previous = getattr(HistoricalRecords.context, "request", None)
    HistoricalRecords.context.request = SimpleNamespace(user=user) if user is not None else None
    try:
        yield
    finally:
        HistoricalRecords.context.request = previous


@shared_task(acks_late=True)
def scenario_activate_task(job_id: int, scenario_id: int) -> None:
    """Activate a scenario (the active one is archived in the same transaction); a job for the API."""
    from territories.models import Scenario
    from territories.services.scenarios import scenario_activate

    def work(job, progress):
        with _acting_as(job.created_by):
            scenario = scenario_activate(scenario=Scenario.objects.get(pk=scenario_id), actor=job.created_by)
        return {
            "scenario": scenario.pk,
            "previous_active": scenario.previous_active_id,
            "message": f'Scenario "{scenario.name}" is active.',
        }

    job_run(job_id=job_id, work=work)


@shared_task(acks_late=True)
def scenario_rollback_task(job_id: int, scenario_id: int) -> None:
    """Put the previously active scenario back in force; a job for the API."""
    from territories.models import Scenario
    from territories.services.scenarios import scenario_rollback

    def work(job, progress):
        with _acting_as(job.created_by):
            restored = scenario_rollback(scenario=Scenario.objects.get(pk=scenario_id), actor=job.created_by)
        return {
            "scenario": restored.pk,
            "rolled_back": scenario_id,
            "message": f'Scenario "{restored.name}" is active again.',
        }

    job_run(job_id=job_id, work=work)


def _optimised_result(result) -> dict:
    """A job's answer for a scenario the optimiser wrote: the scenario, its source and the report's summary."""
    summary = result.optimizer_report["summary"]
    return {
        "scenario": result.pk,
        "source_scenario": result.cloned_from_id,
        "summary": summary,
        "message": f'Scenario "{result.name}" created: {summary["headline"]}',
    }


@shared_task(acks_late=True)
def optimizer_run_task(job_id: int, scenario_id: int, params: dict) -> None:
    """Design or realign a scenario's territories into a new planning scenario (routed to the optimizer queue)."""
    from territories.models import Scenario, Territory
    from territories.services.optimizer_runs import optimizer_run

    def work(job, progress):
        parent_id = params.get("parent")
        with _acting_as(job.created_by):
            result = optimizer_run(
                scenario=Scenario.objects.get(pk=scenario_id),
                k=params.get("k"),
                balance={name: tuple(target) for name, target in params["balance"].items()},
                mode=params.get("mode", "design"),
                compact=params.get("compact", False),
                relocate=params.get("relocate", True),
                seed=params.get("seed", 0),
                time_limit=params.get("time_limit", 60),
                name=params.get("name") or None,  # for the whole run
                parent=Territory.objects.get(pk=parent_id) if parent_id else None,
                user=job.created_by,
                progress=progress,
            )
        return _optimised_result(result)

    job_run(job_id=job_id, work=work)


@shared_task(acks_late=True)
def optimizer_alternative_adopt_task(job_id: int, alternative_id: int) -> None:
    """Make a realignment's trade-off point a planning scenario (light work: the default queue)."""
    from territories.models import OptimizerAlternative
    from territories.services.optimizer_runs import optimizer_alternative_adopt

    def work(job, progress):
        alternative = OptimizerAlternative.objects.get(pk=alternative_id)
        with _acting_as(job.created_by):
            result = optimizer_alternative_adopt(alternative=alternative, user=job.created_by, progress=progress)
        return _optimised_result(result)

    job_run(job_id=job_id, work=work)

"""Celery entry points for territories: thin wrappers that take ids and call the services."""

from celery import shared_task

from core.services import job_run


@shared_task
def scenario_activation_due_task() -> list[int]:
    """Run every minute by beat (see migration 0003): activate the scenarios whose time has come."""
    from territories.services.scenarios import scenario_activate_due

    return scenario_activate_due()


@shared_task(acks_late=True)
def geo_unit_import_task(job_id: int, path: str, layer_name: str, code_field: str, name_field: str = "",
                         kind: str = "", repair: bool = True, skip_bad_features: bool = True) -> None:
    from territories.services.geo_units import geo_unit_import

    def work(job, progress):
        return geo_unit_import(path=path, layer_name=layer_name, code_field=code_field, name_field=name_field,
                               kind=kind, repair=repair, skip_bad_features=skip_bad_features, progress=progress)

    job_run(job_id=job_id, work=work)

"""Write-side functions for scenarios, the hierarchy, rules and geography (see each module)."""

from territories.services.compare import scenario_compare
from territories.services.geo_units import geo_unit_import
from territories.services.geography import (
    geometry_clean,
    territory_boundary_rebuild,
    territory_boundary_set,
    territory_overlaps_and_gaps,
    territory_units_set,
)
from territories.services.hierarchy import (
    rule_create,
    rule_delete,
    rule_update,
    territory_create,
    territory_delete,
    territory_move,
    territory_type_create,
    territory_type_update,
    territory_update,
)
from territories.services.scenarios import (
    scenario_activate,
    scenario_activate_due,
    scenario_clone,
    scenario_create,
    scenario_ensure_editable,
    scenario_rollback,
    scenario_schedule_activation,
    scenario_touch,
    scenario_update,
)

__all__ = [
    "geo_unit_import", "geometry_clean", "rule_create", "rule_delete", "rule_update", "scenario_activate",
    "scenario_activate_due", "scenario_clone", "scenario_compare", "scenario_create", "scenario_ensure_editable",
    "scenario_rollback", "scenario_schedule_activation", "scenario_touch", "scenario_update",
    "territory_boundary_rebuild", "territory_boundary_set", "territory_create", "territory_delete",
    "territory_move", "territory_overlaps_and_gaps", "territory_type_create", "territory_type_update",
    "territory_units_set", "territory_update",
]

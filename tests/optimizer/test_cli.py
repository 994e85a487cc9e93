"""The standalone command's core: GeoJSON in, GeoJSON and report out, one-line errors."""

import json

import numpy as np
import pytest

from territories.optimizer.cli import main, run_design_command
from territories.optimizer.errors import OptimizerInputError

from .conftest import feature_collection, square_grid


@pytest.fixture
def units_file(tmp_path):
    ids, geoms = square_grid(8, 8)
    rng = np.random.default_rng(5)
    properties = [
        {"potential": float(v), "accounts": int(a), "name": f"unit {i}"}
        for i, (v, a) in enumerate(zip(rng.integers(80, 120, 64), rng.integers(1, 5, 64), strict=False))
    ]
    path = tmp_path / "units.geojson"
    path.write_text(json.dumps(feature_collection(ids, geoms, properties)))
    return path


def run(units_path, tmp_path, **overrides):
    options = {
        "units_path": str(units_path),
        "id_field": "id",
        "balance_fields": "potential",
        "k": 4,
        "tolerance": 0.05,
        "seed": 0,
        "current_field": None,
        "time_limit": 10,
        "out_path": str(tmp_path / "out.geojson"),
        "report_path": str(tmp_path / "report.json"),
    }
    options.update(overrides)
    return run_design_command(**options)


def test_writes_every_feature_with_a_territory_and_the_report(units_file, tmp_path):
    report = run(units_file, tmp_path)
    out = json.loads((tmp_path / "out.geojson").read_text())
    assert out["type"] == "FeatureCollection"
    assert len(out["features"]) == 64
    assert all(f["properties"]["territory"] for f in out["features"])
    assert out["features"][0]["properties"]["name"] == "unit 0"  # input properties are kept
    assert len({f["properties"]["territory"] for f in out["features"]}) == 4
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["max_rel_dev"] == report["max_rel_dev"] <= 0.05
    assert saved["contiguous"] is True


def test_realign_from_current_field(units_file, tmp_path):
    run(units_file, tmp_path)
    designed = tmp_path / "out.geojson"
    data = json.loads(designed.read_text())
    for feature in data["features"][:20]:  # the west grows
        feature["properties"]["potential"] *= 1.3
        feature["properties"]["current"] = feature["properties"].pop("territory")
    for feature in data["features"][20:]:
        feature["properties"]["current"] = feature["properties"].pop("territory")
    designed.write_text(json.dumps(data))
    report = run(designed, tmp_path, current_field="current", k=None, out_path=str(tmp_path / "re.geojson"))
    assert report["within_tolerance"]
    assert report["disruption"]["units_moved"] < 32
    # each trade-off point is a property of its own, moving what its report says
    out = json.loads((tmp_path / "re.geojson").read_text())["features"]
    points = {entry["property"]: entry for entry in report["tradeoff"] if entry["tolerance_factor"] != 1.0}
    assert set(points) == {"territory_x0.5", "territory_x0.75", "territory_x1.5"}
    for name, entry in points.items():
        moved = sum(f["properties"][name] != f["properties"]["current"] for f in out)
        assert moved == entry["units_moved"], name
    assert sum(f["properties"]["territory"] != f["properties"]["current"] for f in out) == (
        report["disruption"]["units_moved"])


def write(tmp_path, data):
    path = tmp_path / "bad.geojson"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda fc: fc["features"][3]["properties"].pop("potential"), "has no field 'potential'"),
        (lambda fc: fc["features"][3]["properties"].update(potential="lots"), "is not a number: 'lots'"),
        (lambda fc: fc["features"][3]["properties"].pop("id"), "has no id field 'id'"),
        (
            lambda fc: fc["features"][3].update(
                geometry={"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [2, 2], [0, 0]]]}
            ),
            "cannot be repaired",
        ),
    ],
)
def test_bad_features_give_one_line_messages(units_file, tmp_path, change, message):
    data = json.loads(units_file.read_text())
    change(data)
    with pytest.raises(OptimizerInputError, match=message) as caught:
        run(write(tmp_path, data), tmp_path)
    assert "\n" not in str(caught.value)


def test_k_larger_than_units(units_file, tmp_path):
    with pytest.raises(OptimizerInputError, match="k = 100 is larger than the number of units"):
        run(units_file, tmp_path, k=100)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"type": "Feature", "geometry": None, "properties": {}}, "not a GeoJSON FeatureCollection"),
        ("{not json", "not valid JSON"),
    ],
)
def test_not_a_feature_collection(tmp_path, content, message):
    with pytest.raises(OptimizerInputError, match=message):
        run(write(tmp_path, content), tmp_path)


def test_missing_file(tmp_path):
    with pytest.raises(OptimizerInputError, match="no such file"):
        run(tmp_path / "nope.geojson", tmp_path)


def test_command_line_prints_one_line_error(tmp_path, capsys):
    code = main(
        [
            "--units",
            str(tmp_path / "nope.geojson"),
            "--id-field",
            "id",
            "--balance",
            "x",
            "--k",
            "2",
            "--out",
            str(tmp_path / "o.geojson"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no such file") and err.count("\n") == 1


def test_compact_realignment_from_the_command(units_file, tmp_path):
    run(units_file, tmp_path)
    designed = tmp_path / "out.geojson"
    data = json.loads(designed.read_text())
    for i, feature in enumerate(data["features"]):
        feature["properties"]["current"] = feature["properties"].pop("territory")
        if i < 20:
            feature["properties"]["potential"] *= 1.3
    designed.write_text(json.dumps(data))
    report = run(designed, tmp_path, current_field="current", k=None, compact=True)
    assert report["compact"] is True and report["within_tolerance"] and report["contiguous"]


def test_compact_without_a_current_alignment_is_a_one_line_error(units_file, tmp_path):
    with pytest.raises(OptimizerInputError, match="--compact applies to realignment"):
        run(units_file, tmp_path, compact=True)

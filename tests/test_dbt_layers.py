"""The dbt layers run one way: sources and seeds -> staging (stg_*) -> intermediate (int_*) -> marts.

Read from the manifest `make manifest` writes (parsed here when it is missing or older than the project): a
model's layer is its folder under models/, its name prefix must match that folder, and none of its parents may
be in a later layer (a model that reads a mart is a mart: models/marts/economics, models/marts/quality).
"""

from __future__ import annotations

from pathlib import PurePosixPath

RANK = {"source": 0, "seed": 0, "staging": 1, "intermediate": 2, "marts": 3}
PREFIX = {"staging": "stg_", "intermediate": "int_"}


def layer(node: dict) -> str:
    """source / seed, or the model's folder right under models/ (staging, intermediate, marts)."""
    if node["resource_type"] != "model":
        return node["resource_type"]
    parts = PurePosixPath(node["original_file_path"]).parts
    return parts[1] if len(parts) > 2 and parts[0] == "models" else "models"


def layer_violations(manifest: dict) -> list[str]:
    nodes = {**manifest["sources"], **manifest["nodes"]}
    problems = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        name, own = node["name"], layer(node)
        if own not in RANK:
            problems.append(f"{name}: {node['original_file_path']} is not under models/staging, intermediate or marts")
            continue
        expected = PREFIX.get(own)
        if expected and not name.startswith(expected):
            problems.append(f"{name}: models in models/{own} are named {expected}*")
        for prefix_layer, prefix in PREFIX.items():
            if name.startswith(prefix) and own != prefix_layer:
                problems.append(f"{name}: named {prefix}* but lives in models/{own}")
        for parent_id in node["depends_on"]["nodes"]:
            parent = nodes.get(parent_id)
            if parent is None:
                continue
            parent_layer = layer(parent)
            if RANK.get(parent_layer, 99) > RANK[own]:
                problems.append(f"{name} ({own}) reads {parent['name']} ({parent_layer})")
    return sorted(problems)


def test_layers_run_one_way(dbt_manifest):
    assert layer_violations(dbt_manifest) == []


def test_every_layer_has_models(dbt_manifest):
    layers = {layer(node) for node in dbt_manifest["nodes"].values() if node["resource_type"] == "model"}
    assert layers == {"staging", "intermediate", "marts"}


def _model(name: str, path: str, *parents: str) -> tuple[str, dict]:
    return f"model.p.{name}", {"resource_type": "model", "name": name, "original_file_path": path,
                               "depends_on": {"nodes": list(parents)}}


def test_the_check_sees_a_loop_and_a_misnamed_model():
    manifest = {"sources": {"source.p.raw.t": {"resource_type": "source", "name": "t"}}, "nodes": dict([
        _model("stg_t", "models/staging/stg_t.sql", "source.p.raw.t"),
        _model("int_a", "models/intermediate/int_a.sql", "model.p.stg_t"),
        _model("fct_a", "models/marts/fct_a.sql", "model.p.int_a"),
        _model("int_b", "models/intermediate/int_b.sql", "model.p.fct_a"),
        _model("stg_u", "models/staging/stg_u.sql", "model.p.int_a"),
        _model("int_c", "models/marts/economics/int_c.sql", "model.p.fct_a"),
        _model("helper", "models/intermediate/helper.sql", "model.p.stg_t"),
    ])}
    assert layer_violations(manifest) == [
        "helper: models in models/intermediate are named int_*",
        "int_b (intermediate) reads fct_a (marts)",
        "int_c: named int_* but lives in models/marts",
        "stg_u (staging) reads int_a (intermediate)",
    ]

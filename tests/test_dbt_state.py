"""The build after a change to the dbt project or a seed is a full refresh; otherwise incremental."""

from __future__ import annotations

import shutil

from pipelines import dbt_state
from pipelines.settings import Settings


def test_first_build_is_full_then_incremental(tmp_path) -> None:
    settings = Settings.from_env(data_dir=tmp_path / "warehouse", offline=True)
    settings.working_db.parent.mkdir(parents=True)
    assert dbt_state.needs_full_refresh(settings)          # no warehouse yet
    settings.working_db.write_bytes(b"")
    assert dbt_state.needs_full_refresh(settings)          # no build recorded
    dbt_state.record_built(settings, {"project": dbt_state.project_fingerprint(), "as_of": settings.as_of.isoformat(),
                                      "raw": ""})
    assert not dbt_state.needs_full_refresh(settings)
    settings.working_db.unlink()
    assert dbt_state.needs_full_refresh(settings)          # a new warehouse


def test_a_seed_or_model_change_changes_the_fingerprint(tmp_path) -> None:
    for folder in ("dbt_project/models", "dbt_project/macros", "seeds/reference"):
        shutil.copytree(dbt_state.ROOT / folder, tmp_path / folder)
    shutil.copy(dbt_state.ROOT / "dbt_project/dbt_project.yml", tmp_path / "dbt_project/dbt_project.yml")
    before = dbt_state.project_fingerprint(tmp_path)
    assert before == dbt_state.project_fingerprint(dbt_state.ROOT)
    with open(tmp_path / "seeds/reference/model_aliases.csv", "a") as seed:
        seed.write("some-new-alias,gpt-4o\n")
    after_seed = dbt_state.project_fingerprint(tmp_path)
    (tmp_path / "dbt_project/models/marts/fct_gpu_market_daily.sql").write_text("select 1")
    assert len({before, after_seed, dbt_state.project_fingerprint(tmp_path)}) == 3

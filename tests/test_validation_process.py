"""great-expectations in the refresh command's helper process gives the same results as in-process, raises the same
errors, and a dead helper costs nothing but the in-process import."""

from __future__ import annotations

import pytest

from pipelines import validation
from pipelines.sources.base import Payload
from pipelines.sources.skypilot import SkyPilotSource
from pipelines.validation import screen_rows, validate_batch, validate_here
from pipelines.validation_process import ValidationProcess, great_expectations_in_helper
from tests.http_server import fixture_bytes


@pytest.fixture(scope="module")
def gpu_rows() -> list[dict]:
    payload = Payload("aws/vms.csv", fixture_bytes("gpu/skypilot_v8_aws_vms_gpu.csv"), "live")
    return screen_rows("gpu", SkyPilotSource().parse(payload).rows).rows


@pytest.fixture
def helper(tmp_path):
    process = ValidationProcess(tmp_path / "refresh.log")
    yield process
    process.close()


@pytest.fixture(scope="module")
def serving_helper(tmp_path_factory):
    """One helper for the tests that leave it serving (each helper imports great-expectations: ~4 s of CPU)."""
    process = ValidationProcess(tmp_path_factory.mktemp("helper") / "refresh.log")
    yield process
    process.close()


def test_the_helper_gives_the_in_process_result(serving_helper, gpu_rows):
    unknown_gpus = [dict(row, gpu_name="Zorp-9000") for row in gpu_rows]
    for rows in (gpu_rows, unknown_gpus, []):
        assert serving_helper.validate("gpu", rows, "skypilot", None) == validate_here("gpu", rows, "skypilot")
    assert not serving_helper.validate("gpu", unknown_gpus, "skypilot", None).success
    assert not serving_helper.validate("gpu", gpu_rows, "skypilot", len(gpu_rows) + 1).success, \
        "min_rows reaches it"


def test_an_error_in_the_helper_is_raised_in_the_refresh(serving_helper, gpu_rows):
    with pytest.raises(KeyError):
        serving_helper.validate("no-such-kind", gpu_rows, "skypilot", None)
    assert serving_helper.validate("gpu", gpu_rows, "skypilot", None).success, "the helper still serves"


def test_a_dead_helper_is_replaced_by_in_process_validation(helper, gpu_rows, monkeypatch):
    monkeypatch.setattr(validation, "suite_runner", helper)
    assert validate_batch("gpu", gpu_rows, "skypilot").success
    helper.process.kill()
    helper.process.wait()
    assert validate_batch("gpu", gpu_rows, "skypilot").success, "validated in-process"
    assert not helper.alive


def test_the_helper_ends_with_the_block_and_a_process_that_imported_gx_starts_none(tmp_path, gpu_rows):
    validate_here("gpu", gpu_rows, "skypilot")  # great-expectations imported in this process
    with great_expectations_in_helper(tmp_path / "refresh.log"):
        assert validation.suite_runner is None
    helper = ValidationProcess(tmp_path / "refresh.log")
    helper.close()
    assert helper.process.poll() is not None, "no helper outlives close()"


def test_a_failed_batch_names_each_failed_expectation_and_what_it_observed(gpu_rows):
    # the pass/fail run keeps no values; a failure is validated again for them
    unknown_gpus = [dict(row, gpu_name="Zorp-9000") for row in gpu_rows]
    result = validate_here("gpu", unknown_gpus, "skypilot", min_rows=len(gpu_rows) + 1)
    failed = {(item["expectation"], item["column"]): item["observed"] for item in result.failures}
    assert set(failed) == {("expect_column_values_to_be_in_set", "gpu_name_key"),
                           ("expect_table_row_count_to_be_between", None)}
    assert "zorp-9000" in failed[("expect_column_values_to_be_in_set", "gpu_name_key")]
    assert failed[("expect_table_row_count_to_be_between", None)] == str(len(gpu_rows))
    assert result.summary().startswith(f"2 of {result.evaluated} expectations failed: ")

"""Validation of each source's parsed batch, before anything is loaded.

Two layers, one set of rules:
- row rules (``row_violations``): a row that breaks one goes to ``raw.quarantine`` with the rule and the
  reason, and the rest of the batch proceeds;
- the great-expectations suite (``validate_batch``) is the batch contract on what remains: the schema,
  non-null keys, the ranges and a non-empty batch. A batch that fails it is rejected whole and its source
  keeps serving its last good data (marked stale).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal
from types import ModuleType
from typing import Any, Protocol

import pandas as pd

from pipelines.reference import known_gpu_spellings
from pipelines.sources.base import COLUMNS_BY_KIND, Reject

PRICING_TYPES = ("on_demand", "spot", "unknown")
MAX_USD_PER_GPU_HOUR = Decimal(150)
MAX_GPUS_PER_INSTANCE = Decimal(16)
MAX_USD_PER_1M_TOKENS = Decimal(1000)
TOKEN_PRICE_COLUMNS = (
    "usd_per_1m_input", "usd_per_1m_output", "usd_per_1m_cached_input", "usd_per_1m_cache_write",
    "usd_per_1m_batch_input", "usd_per_1m_batch_output", "usd_per_1m_input_long_context",
    "usd_per_1m_output_long_context",
)
KNOWN_GPU_SHARE = 0.5
DERIVED_COLUMNS = {"gpu": ("gpu_name_key",), "token": ()}
KEY_COLUMNS = {"gpu": ("scope", "provider", "gpu_name", "pricing_type"), "token": ("scope", "provider",
                                                                                 "source_model_key")}
# The largest magnitude each numeric column of raw.*_observations holds (decimal(18, 6), decimal(8, 3), bigint):
# a value past it is a row-level reject, never an overflow while loading the batch.
DECIMAL_18_6 = Decimal("1e12")
COLUMN_LIMITS = {
    "usd_per_hour": DECIMAL_18_6, "usd_per_gpu_hour": DECIMAL_18_6, "gpu_count": Decimal("1e5"),
    "gpu_memory_gb": Decimal("1e300"), "long_context_threshold_tokens": Decimal(2**63 - 1),
    "max_input_tokens": Decimal(2**63 - 1), **{column: DECIMAL_18_6 for column in TOKEN_PRICE_COLUMNS},
}


def row_violations(kind: str, row: dict[str, Any]) -> list[tuple[str, str]]:
    """(rule, reason) for every row rule the row breaks."""
    problems = [("not_null_key", f"{column} is empty") for column in KEY_COLUMNS[kind]
                if row.get(column) in (None, "")]
    problems += type_violations(row)
    if problems:  # a value that does not fit its column: the range rules below may not even compare it
        return problems
    if kind == "gpu":
        problems += _gpu_violations(row)
    else:
        problems += _token_violations(row)
    return problems


def type_violations(row: dict[str, Any]) -> list[tuple[str, str]]:
    """Values that would not load into their raw column: text that is not valid unicode (a lone surrogate from a
    bad \\u escape), numbers past the column's range, non-numbers in numeric columns."""
    problems = []
    for column, value in row.items():
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                problems.append(("valid_text", f"{column} is not valid unicode: {ascii(value)[:80]}"))
        elif column in COLUMN_LIMITS and value is not None:
            try:
                fits = abs(Decimal(value)) < COLUMN_LIMITS[column]
            except (ArithmeticError, TypeError, ValueError):
                fits = False
            if not fits:
                problems.append(("fits_column_type", f"{column} = {str(value)[:40]} does not fit the column"))
    return problems


def _gpu_violations(row: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    if row.get("pricing_type") not in PRICING_TYPES:
        problems.append(("pricing_type_known", f"pricing_type {row.get('pricing_type')!r}"))
    per_gpu = row.get("usd_per_gpu_hour")
    if per_gpu is not None and not Decimal(0) < per_gpu <= MAX_USD_PER_GPU_HOUR:
        problems.append(("usd_per_gpu_hour_range",
                         f"{per_gpu} USD per GPU-hour outside (0, {MAX_USD_PER_GPU_HOUR}]"))
    per_hour = row.get("usd_per_hour")
    if per_hour is not None and per_hour <= 0:
        problems.append(("usd_per_hour_positive", f"{per_hour} USD per hour is not positive"))
    if per_hour is None and per_gpu is None:
        problems.append(("has_price", "no price"))
    count = row.get("gpu_count")
    if count is not None and not Decimal(0) < count <= MAX_GPUS_PER_INSTANCE:
        problems.append(("gpu_count_range", f"gpu_count {count} outside (0, {MAX_GPUS_PER_INSTANCE}]"))
    return problems


def _token_violations(row: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    for column in TOKEN_PRICE_COLUMNS:
        value = row.get(column)
        if value is not None and not Decimal(0) <= value <= MAX_USD_PER_1M_TOKENS:
            problems.append((f"{column}_range",
                             f"{column} = {value} outside [0, {MAX_USD_PER_1M_TOKENS}] USD per 1M tokens"))
    return problems


@dataclass
class Screened:
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


def screen_rows(kind: str, rows: list[dict[str, Any]]) -> Screened:
    result = Screened()
    for row in rows:
        problems = row_violations(kind, row)
        if problems:
            rule, reason = problems[0]
            result.rejects.append(Reject(rule, "; ".join(reason for _, reason in problems), row))
        else:
            result.rows.append(row)
    return result


@dataclass(frozen=True)
class SuiteResult:
    success: bool
    evaluated: int
    failures: list[dict[str, Any]]

    def summary(self) -> str:
        if self.success:
            return f"{self.evaluated} expectations passed"
        failed = ", ".join(f"{item['expectation']}({item.get('column') or ''})" for item in self.failures)
        return f"{len(self.failures)} of {self.evaluated} expectations failed: {failed}"


class SuiteRunner(Protocol):
    def validate(self, kind: str, rows: list[dict[str, Any]], source: str, min_rows: int | None) -> SuiteResult | None:
        """The suite's result, or None when this runner cannot validate (the caller then validates in-process)."""


# Set while the `margins refresh` command runs: great-expectations in a helper process (pipelines.validation_process)
suite_runner: SuiteRunner | None = None


def validate_batch(kind: str, rows: list[dict[str, Any]], source: str, min_rows: int | None = None) -> SuiteResult:
    """Run the great-expectations suite for this observation kind on a parsed batch (in the helper process when the
    refresh started one, else in this process).

    ``min_rows``: for a live fetch, half the rows of the previous live fetch of the same payload; fewer means
    the source collapsed (or changed its schema) and the batch is rejected.
    """
    if suite_runner is not None:
        result = suite_runner.validate(kind, rows, source, min_rows)
        if result is not None:
            return result
    return validate_here(kind, rows, source, min_rows)


def import_great_expectations() -> ModuleType:
    """great-expectations, imported on first use (analytics off)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx  # ~3 s to import: only here, never at module top

    return gx


def validate_here(kind: str, rows: list[dict[str, Any]], source: str, min_rows: int | None = None) -> SuiteResult:
    """``validate_batch`` in this process."""
    gx = import_great_expectations()

    frame = _frame(kind, rows)
    context = _gx_context(gx)
    asset = context.data_sources.add_or_update_pandas(name=f"{source}_{kind}").add_dataframe_asset(
        name="batch")
    batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(
        batch_parameters={"dataframe": frame})
    suite = gx.ExpectationSuite(name=f"{kind}_observations")
    for expectation in _expectations(gx, kind, min_rows or 1):
        suite.add_expectation(expectation)
    # the pass/fail answer alone costs a third less (no unexpected-value lists); a failed batch, rare, is validated
    # again for the values its message shows
    result = batch.validate(suite, result_format="BOOLEAN_ONLY")
    if not result.success:
        result = batch.validate(suite)
    failures = [
        {"expectation": item.expectation_config.type, "column": item.expectation_config.kwargs.get("column"),
         "observed": str(item.result.get("observed_value", item.result.get("partial_unexpected_list")))[:200]}
        for item in result.results if not item.success
    ]
    return SuiteResult(success=bool(result.success), evaluated=len(result.results), failures=failures)


_CONTEXT = None


def _gx_context(gx):
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = gx.get_context(mode="ephemeral")
        _CONTEXT.variables.progress_bars = {"globally": False}
    return _CONTEXT


def _frame(kind: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    columns = COLUMNS_BY_KIND[kind]
    frame = pd.DataFrame.from_records(rows, columns=list(rows[0]) if rows else list(columns))
    for column in frame.columns:
        values = frame[column]
        # only an object column can hold Decimals (pandas gives strings, numbers and booleans their own dtypes)
        if values.dtype == object and any(isinstance(value, Decimal) for value in values):
            frame[column] = pd.to_numeric(values.map(lambda v: None if v is None else float(v)))
    if kind == "gpu" and "gpu_name" in frame.columns:
        frame["gpu_name_key"] = frame["gpu_name"].map(lambda name: name.strip().lower() if name else None)
    return frame


def _expectations(gx, kind: str, min_rows: int) -> list:
    expect = gx.expectations
    checks = [
        expect.ExpectTableColumnsToMatchSet(column_set=list(COLUMNS_BY_KIND[kind]) + list(DERIVED_COLUMNS[kind]),
                                            exact_match=True),
        expect.ExpectTableRowCountToBeBetween(min_value=min_rows),
    ]
    checks += [expect.ExpectColumnValuesToNotBeNull(column=column) for column in KEY_COLUMNS[kind]]
    if kind == "gpu":
        checks += [
            expect.ExpectColumnValuesToBeInSet(column="pricing_type", value_set=list(PRICING_TYPES)),
            expect.ExpectColumnValuesToBeBetween(column="usd_per_gpu_hour", min_value=0,
                                                 max_value=float(MAX_USD_PER_GPU_HOUR), strict_min=True),
            expect.ExpectColumnValuesToBeBetween(column="usd_per_hour", min_value=0, strict_min=True),
            expect.ExpectColumnValuesToBeBetween(column="gpu_count", min_value=0,
                                                 max_value=float(MAX_GPUS_PER_INSTANCE), strict_min=True),
            # most GPU spellings must be known after aliasing; the rest go to unmapped_gpu_aliases
            expect.ExpectColumnValuesToBeInSet(column="gpu_name_key", value_set=sorted(known_gpu_spellings()),
                                               mostly=KNOWN_GPU_SHARE),
        ]
    else:
        checks += [expect.ExpectColumnValuesToBeBetween(column=column, min_value=0,
                                                        max_value=float(MAX_USD_PER_1M_TOKENS))
                   for column in TOKEN_PRICE_COLUMNS]
    return checks

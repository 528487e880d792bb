-- Change-only token price history: one row per (source, provider, model key) per price version.
-- A model deleted from the source keeps its history up to the last snapshot that listed it. Versions whose
-- input or output price moved more than 5x (or fell more than 80%) are flagged (see flag_price_moves).
-- A view over the change log: the versions are the stored changes, not a second copy of them.
{{ config(materialized='view') }}
{{ token_price_history(ref('stg_token_observations')) }}

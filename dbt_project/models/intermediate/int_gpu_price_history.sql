-- Change-only GPU price history: one row per offer per price version, with valid_from / valid_to, and a flag
-- on versions whose price moved more than 5x (or fell more than 80%) from the offer's previous version.
-- A view over the change log: the versions are the stored changes, not a second copy of them.
{{ config(materialized='view') }}
{{ gpu_price_history(ref('stg_gpu_observations')) }}

-- Every fetch attempt of every source (live, bundled, backfill), including failures and skips.
select
    fetch_id, run_id, source, payload_name, url, mode, status, fetched_at, observed_at, sha256, bytes,
    rows_parsed, rows_quarantined, error
from {{ landing_table('fetch_log', source_ids()) }}
where fetched_at < {{ as_of_end() }}

-- Every (source, scope, observed_at) a landed payload contributed, from every source.
select source, scope, observed_at, sha256, mode, is_date_estimated, first_fetch_id, is_row_dated, landed_at
from {{ landing_table('snapshots', source_ids()) }}
-- a warehouse built as of a day ignores what was observed after it
where observed_at < {{ as_of_end() }}

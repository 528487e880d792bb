select source, kind, description, origin_url, licence, citation, is_live, source_class, precedence,
    upstream_stale_after_days
from {{ ref('sources') }}

select source, kind, description, origin_url, licence, citation, is_live
from {{ ref('sources') }}

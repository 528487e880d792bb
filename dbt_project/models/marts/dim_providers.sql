select provider, display_name, kind, website, notes
from {{ ref('providers') }}

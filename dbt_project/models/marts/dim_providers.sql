select provider, display_name, kind, website, notes, price_class, price_class_reason
from {{ ref('providers') }}

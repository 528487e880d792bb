-- Live batches held as suspect against the current state of their scope (pipelines/plausibility.py): a collapsed
-- file (offer_drop) or most prices moved by one factor (uniform_move). Held batches are landed, not applied, until
-- a second fetch confirms them.
select
    source, sha256, payload_name, reason, current_offers, incoming_offers, matched_offers, moved_offers, factor,
    state_observed_at, held_at, confirmed_at, confirmed_by_sha256,
    confirmed_at is not null as is_confirmed
from {{ landing_table('suspect_batches', source_ids()) }}

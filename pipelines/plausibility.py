"""Plausibility of a live batch against the current state of its scope (whatever built it: bundled, backfill, live).

Two shapes of a broken upstream pass every row rule and the batch suite: a file cut short but still valid (a few
offers where thousands were listed) and every price moved by the same factor at once (a unit or currency slip).
Such a batch is held as suspect: landed and logged, not applied, until a second fetch confirms it (the same bytes
again, or a batch of the same shape). ``raw.suspect_batches`` records every hold; ``marts.price_anomalies`` shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from pipelines.changes import KEY_COLUMNS

DROP_SHARE = 0.5            # fewer offers than this share of the current state: a collapsed file
UNIFORM_SHARE = 0.8         # this share of the matched prices moved by one factor: a uniform move
MIN_CURRENT_OFFERS = 10     # below this, the state is too small to judge a drop
MIN_MATCHED_OFFERS = 20     # below this, too few prices to call a move uniform
SAME_FACTOR = 0.005         # ratios within 0.5 % of the median ratio count as "the same factor"
NO_MOVE = 0.02              # a median ratio within 2 % of 1 is no move
CONFIRM_TOLERANCE = 0.1     # a second batch within 10 % of the held one's offers confirms an offer drop,
CONFIRM_FACTOR_TOLERANCE = 0.01  # and one within 1 % of its factor a uniform move
PRICE = {"gpu": "coalesce(usd_per_hour, usd_per_gpu_hour)",
         "token": "coalesce(usd_per_1m_output, usd_per_1m_input)"}


@dataclass(frozen=True)
class Suspicion:
    reason: str
    current_offers: int
    incoming_offers: int
    matched_offers: int | None = None
    moved_offers: int | None = None
    factor: float | None = None
    state_observed_at: datetime | None = None

    def describe(self) -> str:
        if self.reason == "offer_drop":
            return (f"{self.incoming_offers} offers where the current state has {self.current_offers} "
                    f"(below {DROP_SHARE:.0%})")
        return f"{self.moved_offers} of {self.matched_offers} prices moved by the same factor {self.factor:.4g}"


def check_batch(connection: duckdb.DuckDBPyConnection, source_id: str, kind: str,
                rows_relation: str) -> Suspicion | None:
    """Compare the batch in ``rows_relation`` (observation columns) with the current state of its scopes."""
    keys = ", ".join(KEY_COLUMNS[kind])
    connection.execute(
        f"""create or replace temp table plausibility_current as
            select scope, {keys}, newest.price as price, newest.observed_at as observed_at from (
                select scope, {keys},
                       arg_max(struct_pack(is_removed, price := {PRICE[kind]}, observed_at), observed_at) as newest
                from raw.{kind}_observations
                where source = $source and scope in (select distinct scope from {rows_relation})
                group by all
            ) where not newest.is_removed""", {"source": source_id})
    try:
        current, newest = connection.execute(
            "select count(*), max(observed_at) from plausibility_current").fetchone()
        incoming = connection.execute(
            f"select count(*) from (select distinct scope, {keys} from {rows_relation})").fetchone()[0]
        if current >= MIN_CURRENT_OFFERS and incoming < DROP_SHARE * current \
                and not _shared_scope(connection, source_id, rows_relation):
            return Suspicion("offer_drop", current, incoming, state_observed_at=newest)
        return _uniform_move(connection, kind, rows_relation, current, incoming, newest)
    finally:
        connection.execute("drop table if exists plausibility_current")


def _shared_scope(connection, source_id: str, rows_relation: str) -> bool:
    """True when one payload holds only part of its scope (pages of a listing, one query of several): the newest
    snapshot of a scope was made of several payloads. Then a page's offer count says nothing about a drop."""
    return connection.execute(
        f"""select coalesce(max(payloads), 0) > 1 from (
                select scope, count(distinct sha256) as payloads from raw.snapshots
                where source = $source and scope in (select distinct scope from {rows_relation})
                group by scope, observed_at
                qualify observed_at = max(observed_at) over (partition by scope))""",
        {"source": source_id}).fetchone()[0]


def _uniform_move(connection, kind: str, rows_relation: str, current: int, incoming: int, newest) -> Suspicion | None:
    same_key = " and ".join(f"new.{column} is not distinct from old.{column}" for column in ("scope",
                                                                                          *KEY_COLUMNS[kind]))
    price = PRICE[kind].replace("usd_", "new.usd_")
    matched, factor, same = connection.execute(
        f"""with ratios as (
                select cast({price} as double) / cast(old.price as double) as ratio
                from {rows_relation} as new inner join plausibility_current as old on {same_key}
                where cast({price} as double) > 0 and old.price > 0
            ), center as (select median(ratio) as factor from ratios)
            select count(*), any_value(center.factor),
                   count(*) filter (where abs(ratio / center.factor - 1) <= {SAME_FACTOR})
            from ratios, center""").fetchone()
    if matched < MIN_MATCHED_OFFERS or factor is None or abs(factor - 1) <= NO_MOVE:
        return None
    if same < UNIFORM_SHARE * matched:
        return None
    return Suspicion("uniform_move", current, incoming, matched_offers=matched, moved_offers=same, factor=factor,
                     state_observed_at=newest)


def held_match(connection: duckdb.DuckDBPyConnection, source_id: str, payload_name: str, sha256: str,
               suspicion: Suspicion) -> str | None:
    """The sha256 of an earlier held batch of this payload that this one confirms (same bytes, or the same shape)."""
    rows = connection.execute(
        """select sha256, reason, incoming_offers, factor from raw.suspect_batches
           where source = ? and payload_name = ? and confirmed_at is null order by held_at desc""",
        [source_id, payload_name]).fetchall()
    for held_sha, reason, offers, factor in rows:
        if held_sha == sha256:
            return held_sha
        if reason != suspicion.reason:
            continue
        if reason == "offer_drop" and abs(suspicion.incoming_offers - offers) <= CONFIRM_TOLERANCE * max(offers, 1):
            return held_sha
        if reason == "uniform_move" and factor and abs(suspicion.factor / factor - 1) <= CONFIRM_FACTOR_TOLERANCE:
            return held_sha
    return None


def hold(connection: duckdb.DuckDBPyConnection, source_id: str, payload_name: str, sha256: str,
         suspicion: Suspicion, held_at: datetime) -> None:
    connection.execute(
        "insert or ignore into raw.suspect_batches values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null, null)",
        [source_id, sha256, payload_name, suspicion.reason, suspicion.current_offers, suspicion.incoming_offers,
         suspicion.matched_offers, suspicion.moved_offers, suspicion.factor, suspicion.state_observed_at, held_at])


def confirm(connection: duckdb.DuckDBPyConnection, source_id: str, payload_name: str, sha256: str,
            confirmed_at: datetime) -> None:
    """Mark every unconfirmed hold of this payload as confirmed by the batch ``sha256`` (applied now)."""
    connection.execute(
        """update raw.suspect_batches set confirmed_at = ?, confirmed_by_sha256 = ?
           where source = ? and payload_name = ? and confirmed_at is null""",
        [confirmed_at, sha256, source_id, payload_name])

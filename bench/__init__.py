"""Benchmarks of issue 7 (`make bench`): synthetic history at scale, dbt build times, storage, parsing, queries.

Everything here measures; nothing here changes the pipeline. Synthetic data is written only to temporary
warehouses under a ``margins-bench-*`` temp directory, never to ``$MARGINS_DATA_DIR`` or ``./warehouse``.
"""

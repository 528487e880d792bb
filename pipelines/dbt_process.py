"""`margins-dbt`: the dbt command the refresh, `make manifest` and the tests run, dbt's own CLI without Python's cyclic
garbage collector.

A dbt process is short-lived and nearly every object it makes lives until it exits: the parsed project, the manifest
and the graph (about a million objects). Python's cyclic collector scans them again and again as they accumulate
and finds nothing to free: about a fifth of dbt's CPU in a full build. Reference counting still frees everything
else, so leaving the collector off costs little memory (measured on the bundled warehouse: peak 1.11 -> 1.32 GB in a
full build, 0.69 -> 0.75 GB in a one-day build; bench/README.md). Everything else is `dbt` as installed.
"""

from __future__ import annotations

import gc


def main() -> None:
    gc.disable()
    from dbt.cli.main import cli

    try:
        cli()
    finally:
        gc.freeze()  # nor one final scan at exit


if __name__ == "__main__":
    main()

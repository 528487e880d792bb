"""Parsing a ~300 MB AWS-shaped EC2 offer CSV: DuckDB's own read_csv vs the project's AWS parser.

The file (SYNTHETIC, written to the bench's temp dir): the 5 quoted metadata lines and the 33-column header of
the documented offer-file shape (as in tests/fixtures/gpu/aws/, see tests/fixtures/README.md),
then ~660k rows. GPU rows: every real us-east-1 on-demand price of the SkyPilot v8 AWS catalog (6 GPU instance
types, real price, GPU count, vCPUs, memory), each crossed with every operating system, tenancy, pre-installed
software, capacity status and term (1 OnDemand + 6 Reserved rates), so exactly one row per instance type passes
the project's filter, as in a real offer file. Non-GPU rows (~98 %, like the real files): real AWS family/size
names with a SYNTHETIC price (vCPUs x 0.0416 USD, jittered), random OS/tenancy/software/capacity/term.

Both readers run in fresh processes, each started by a small launcher that reads its ``ru_maxrss`` with
``os.wait4`` (that process only: interpreter + imports + parse); throughput = file bytes / the parse time the
reader measures itself.
  - DuckDB baseline: ``read_csv(skip=5, header, all_varchar, the parser's delim/quote/escape)`` + the same filter
    the parser applies, fetched.
  - project: ``pipelines.sources.aws.AwsSource().parse(Payload(path=…))`` (DuckDB filter + Python rows), after
    importing ``pipelines.validation`` as a refresh has (that import time is reported apart).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from bench.generate import SNAPSHOTS

TARGET_BYTES = 300 * 1024 * 1024
METADATA = (
    '"FormatVersion","v1.0"\n'
    '"Disclaimer","This pricing list is for informational purposes only. All prices are subject to the additional '
    'terms included in the pricing pages on http://aws.amazon.com. All Free Tier prices are also subject to the terms '
    'included at https://aws.amazon.com/free/"\n'
    '"Publication Date","2025-05-23T23:27:44Z"\n'
    '"Version","20250523232744"\n'
    '"OfferCode","AmazonEC2"\n'
)
HEADER = ("SKU", "OfferTermCode", "RateCode", "TermType", "PriceDescription", "EffectiveDate", "StartingRange",
          "EndingRange", "Unit", "PricePerUnit", "Currency", "LeaseContractLength", "PurchaseOption", "OfferingClass",
          "Product Family", "serviceCode", "Location", "Location Type", "Instance Type", "Current Generation",
          "Instance Family", "vCPU", "Memory", "GPU", "GPU Memory", "Tenancy", "Operating System", "License Model",
          "usageType", "operation", "CapacityStatus", "Pre Installed S/W", "Region Code")
NON_GPU_FAMILIES = (
    ("General purpose", ("m7i", "m7g", "m6i", "m6a", "m5", "t3", "t4g", "m7a")),
    ("Compute optimized", ("c7i", "c7g", "c6i", "c6a", "c5", "c7a")),
    ("Memory optimized", ("r7i", "r7g", "r6i", "r6a", "r5", "x2idn", "z1d")),
    ("Storage optimized", ("i4i", "i3", "d3", "im4gn")),
)
SIZES = (("large", 2), ("xlarge", 4), ("2xlarge", 8), ("4xlarge", 16), ("8xlarge", 32), ("12xlarge", 48),
         ("16xlarge", 64), ("24xlarge", 96), ("48xlarge", 192))
OPERATING_SYSTEMS = ("Linux", "Windows", "RHEL", "SUSE", "Red Hat Enterprise Linux with HA", "Ubuntu Pro")
TENANCIES = ("Shared", "Dedicated", "Host")
SOFTWARE = ("NA", "SQL Std", "SQL Web", "SQL Ent")
CAPACITY = ("Used", "UnusedCapacityReservation", "AllocatedCapacityReservation")
TERMS = (("OnDemand", "JRTCKXETXF", "", "", ""), ("Reserved", "4NA7Y494T4", "1yr", "No Upfront", "standard"),
         ("Reserved", "6QCMYABX3D", "1yr", "All Upfront", "standard"),
         ("Reserved", "HU7G6KETJZ", "1yr", "Partial Upfront", "standard"),
         ("Reserved", "BPH4J8HBKS", "3yr", "No Upfront", "standard"),
         ("Reserved", "NQ3QZPMQV9", "3yr", "All Upfront", "standard"),
         ("Reserved", "VJWZNREJX2", "1yr", "No Upfront", "convertible"))


@dataclass
class ParseRun:
    reader: str
    seconds: float
    wall_seconds: float
    peak_rss_mib: float
    rows: int
    ok: bool
    error: str | None = None
    import_seconds: float | None = None


def _values(name: str, columns: str, rows) -> str:
    literal = ", ".join("(" + ", ".join(_sql(value) for value in row) + ")" for row in rows)
    return f"{name}({columns}) as (values {literal})"


def _sql(value) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def gpu_instance_rows() -> list[tuple[str, float, int, int, int]]:
    """Real us-east-1 on-demand prices of the SkyPilot v8 AWS catalog: (type, price, GPUs, vCPUs, memory GiB)."""
    path = SNAPSHOTS / "skypilot" / "skypilot_v8_aws_vms_gpu.csv.gz"
    with duckdb.connect() as connection:
        return connection.execute(f"""
            select InstanceType, max(Price), max(AcceleratorCount)::integer, max(vCPUs)::integer,
                max(MemoryGiB)::integer
            from read_csv('{path}')
            where Region = 'us-east-1' and Price is not null
            group by InstanceType order by InstanceType""").fetchall()


def write_offer_csv(path: Path, target_bytes: int = TARGET_BYTES) -> dict:
    """Write the AWS-shaped offer file; returns its size and row counts."""
    gpu = gpu_instance_rows()
    non_gpu = [(family, f"{prefix}.{size}", vcpu) for family, prefixes in NON_GPU_FAMILIES
               for prefix in prefixes for size, vcpu in SIZES]
    non_gpu = [(index + 1, *row) for index, row in enumerate(non_gpu)]
    ctes = [
        _values("gpu_types", "instance_type, price, gpus, vcpu, memory", gpu),
        _values("other_types", "idx, family, instance_type, vcpu", non_gpu),
        _values("oses", "os", [(value,) for value in OPERATING_SYSTEMS]),
        _values("tenancies", "tenancy", [(value,) for value in TENANCIES]),
        _values("software", "sw", [(value,) for value in SOFTWARE]),
        _values("capacity", "cap", [(value,) for value in CAPACITY]),
        _values("terms", "term_type, term_code, lease, purchase, class", TERMS),
    ]
    gpu_rows = (len(gpu) * len(OPERATING_SYSTEMS) * len(TENANCIES) * len(SOFTWARE) * len(CAPACITY) * len(TERMS))
    body = path.with_suffix(".body")
    n_other = max(0, target_bytes // 400 - gpu_rows)
    for _attempt in range(2):
        _copy_rows(ctes, body, n_other, len(non_gpu))
        size = body.stat().st_size + len(METADATA) + len(",".join(f'"{c}"' for c in HEADER)) + 1
        if abs(size - target_bytes) < target_bytes * 0.03:
            break
        n_other = int(n_other * target_bytes / size)
    with open(path, "wb") as out:
        out.write(METADATA.encode())
        out.write((",".join(f'"{column}"' for column in HEADER) + "\n").encode())
        with open(body, "rb") as handle:
            while chunk := handle.read(16 * 1024 * 1024):
                out.write(chunk)
    body.unlink()
    return {"bytes": path.stat().st_size, "gpu_rows": gpu_rows, "other_rows": n_other,
            "gpu_instance_types": len(gpu)}


def _copy_rows(ctes: list[str], body: Path, n_other: int, non_gpu: int) -> None:
    pick = "list_element({values}, (hash(i, '{salt}') % {n})::integer + 1)"

    def choose(values: tuple[str, ...], salt: str) -> str:
        return pick.format(values=_sql_list(values), salt=salt, n=len(values))

    term_index = "(hash(i, 'term') % 7)::integer + 1"
    query = f"""
    with {', '.join(ctes)},
    gpu as (
        select gpu_types.instance_type, 'GPU instance' as family, gpu_types.vcpu, gpu_types.memory || ' GiB' as memory,
            gpu_types.gpus::varchar as gpu, oses.os, tenancies.tenancy, software.sw, capacity.cap, terms.*,
            gpu_types.price as price
        from gpu_types, oses, tenancies, software, capacity, terms
    ),
    other as (
        select other_types.instance_type, other_types.family, other_types.vcpu,
            (other_types.vcpu * 4) || ' GiB' as memory, '' as gpu,
            {choose(OPERATING_SYSTEMS, 'os')} as os, {choose(TENANCIES, 'tenancy')} as tenancy,
            {choose(SOFTWARE, 'sw')} as sw, {choose(CAPACITY, 'cap')} as cap,
            list_element({_sql_list(tuple(t[0] for t in TERMS))}, {term_index}) as term_type,
            list_element({_sql_list(tuple(t[1] for t in TERMS))}, {term_index}) as term_code,
            list_element({_sql_list(tuple(t[2] for t in TERMS))}, {term_index}) as lease,
            list_element({_sql_list(tuple(t[3] for t in TERMS))}, {term_index}) as purchase,
            list_element({_sql_list(tuple(t[4] for t in TERMS))}, {term_index}) as class,
            round(other_types.vcpu * 0.0416 * (0.8 + (hash(i, 'price') % 1000) / 2500.0), 6) as price
        from range({n_other}) as r(i)
        inner join other_types on other_types.idx = (hash(i, 'type') % {non_gpu})::integer + 1
    ),
    rows as (select * from gpu union all select * from other)
    select
        upper(substr(md5(instance_type || os || tenancy || sw || cap), 1, 16)) as sku,
        term_code,
        upper(substr(md5(instance_type || os || tenancy || sw || cap), 1, 16)) || '.' || term_code || '.6YS6EN2CT7',
        term_type,
        '$' || price || ' per ' || term_type || ' ' || os || ' ' || instance_type || ' Instance Hour',
        '2025-05-23', '0', 'Inf', 'Hrs', printf('%.10f', price), 'USD', lease, purchase, class,
        'Compute Instance', 'AmazonEC2', 'US East (N. Virginia)', 'AWS Region', instance_type, 'Yes', family,
        vcpu::varchar, memory, gpu, '', tenancy, os,
        case when os = 'Windows' and sw <> 'NA' then 'License Included' else 'No License required' end,
        'BoxUsage:' || instance_type, 'RunInstances', cap, sw, 'us-east-1'
    from rows
    order by 1, 2
    """
    with duckdb.connect() as connection:
        connection.execute("set enable_progress_bar = false")
        connection.execute("set preserve_insertion_order = true")
        connection.execute(f"copy ({query}) to '{body}' (format csv, header false, force_quote *)")


def _sql_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(_sql(value) for value in values) + "]"


DUCKDB_CHILD = """
import json, sys, time
import duckdb
from pipelines.sources.aws import GPU_FAMILIES, METADATA_LINES, OFFER_QUERY
path = sys.argv[1]
families = "(" + ", ".join(f"'{f}'" for f in GPU_FAMILIES) + ")"
# the same dialect the parser names (no sniffing on either side), every column as text, the same filter
source = (f"read_csv('{path}', skip = {METADATA_LINES}, header = true, all_varchar = true, "
          "delim = ',', quote = '\\"', escape = '\\"')")
started = time.perf_counter()
with duckdb.connect() as connection:
    rows = connection.execute(OFFER_QUERY.format(source=source, families=families)).fetchall()
print(json.dumps({"seconds": time.perf_counter() - started, "rows": len(rows)}))
"""
# In a refresh the AWS step runs inside pipelines.ingest, which has imported pipelines.validation (pandas) already,
# so the child imports it first and reports that apart.
PROJECT_CHILD = """
import json, sys, time
from pathlib import Path
started = time.perf_counter()
import pipelines.validation
imported = time.perf_counter() - started
from pipelines.sources.aws import AwsSource
from pipelines.sources.base import Payload
payload = Payload(name="us-east-1/index.csv", content=b"", mode="live", path=Path(sys.argv[1]))
started = time.perf_counter()
batch = AwsSource().parse(payload)
print(json.dumps({"seconds": time.perf_counter() - started, "rows": len(batch.rows), "rejects": len(batch.rejects),
                  "import_seconds": imported}))
"""


# A freshly started launcher runs the reader and reports its ru_maxrss: a child forked straight from this
# (large) bench process would inherit this process's high-water RSS in its own ru_maxrss.
LAUNCHER = """
import json, os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
out, err = child.stdout.read(), child.stderr.read()
_, status, usage = os.wait4(child.pid, 0)
print(json.dumps({"maxrss_kib": usage.ru_maxrss, "exit": os.waitstatus_to_exitcode(status),
                  "stdout": out.decode(errors="replace"), "stderr": err.decode(errors="replace")[-600:]}))
"""


def run_child(reader: str, code: str, path: Path) -> ParseRun:
    started = time.perf_counter()
    launched = subprocess.run([sys.executable, "-c", LAUNCHER, sys.executable, "-c", code, str(path)],
                              capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    wall = time.perf_counter() - started
    try:
        report = json.loads(launched.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return ParseRun(reader, float("nan"), wall, float("nan"), 0, False, launched.stderr.strip()[-300:])
    peak = report["maxrss_kib"] / 1024  # KiB on Linux
    if report["exit"] != 0:
        return ParseRun(reader, float("nan"), wall, peak, 0, False, report["stderr"].strip()[-300:])
    result = json.loads(report["stdout"].strip().splitlines()[-1])
    return ParseRun(reader, result["seconds"], wall, peak, result["rows"], True,
                    import_seconds=result.get("import_seconds"))

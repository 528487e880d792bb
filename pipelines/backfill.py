"""Backfill: a git-backed source's price history from the public git history of its file(s).

The commits that touched the file are listed through the GitHub REST API, sampled (the last commit of
each day, week or month; or, for a Dagster partition, the commit in force on each day), and the file at
each sampled commit is downloaded from the raw host and landed like any payload (``mode="backfill"``,
``observed_at`` = commit time) through ``pipelines.ingest.load_payload``: parsed once per sha256, one
snapshot per commit. A commit landed by an earlier backfill is not downloaded again, so a re-run lands
nothing twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from pipelines.github import Commit, GitHubClient, github_http_client
from pipelines.http import FetchError, HttpClient
from pipelines.ingest import load_payload
from pipelines.settings import Settings
from pipelines.sources import get_source
from pipelines.sources.base import Payload, Source
from pipelines.sources.skypilot import configured_clouds
from pipelines.warehouse import connect_working, writer_lock

EVERY = ("day", "week", "month")
SKYPILOT_CATALOG = "catalogs/v8"    # the catalog version the skypilot source reads live


@dataclass(frozen=True)
class GitFile:
    path: str               # path of the file in the repository
    payload_name: str       # the payload name the source's parser expects


@dataclass(frozen=True)
class GitSource:
    repo: str
    files: Callable[[], tuple[GitFile, ...]]


GIT_SOURCES: dict[str, GitSource] = {
    "litellm": GitSource("BerriAI/litellm", lambda: (
        GitFile("model_prices_and_context_window.json", "model_prices_and_context_window.json"),)),
    "skypilot": GitSource("skypilot-org/skypilot-catalog", lambda: tuple(
        GitFile(f"{SKYPILOT_CATALOG}/{cloud}/vms.csv", f"{cloud}/vms.csv") for cloud in configured_clouds())),
}


@dataclass(frozen=True)
class BackfillRequest:
    source_id: str
    since: date
    until: date
    every: str = "day"

    @classmethod
    def parse(cls, source_id: str, since: str, until: str | None, every: str | None) -> BackfillRequest:
        """Validated request from command-line text; ValueError with a readable message."""
        if source_id not in GIT_SOURCES:
            raise ValueError(f"unknown source {source_id!r} for a backfill; git-backed sources: "
                             f"{', '.join(GIT_SOURCES)}")
        first, last = _day(since, "--since"), _day(until, "--until") if until else datetime.now(UTC).date()
        if first > last:
            raise ValueError(f"--since {first} is after --until {last}")
        if (every or "day") not in EVERY:
            raise ValueError(f"--every must be one of {', '.join(EVERY)}")
        return cls(source_id, first, last, every or "day")


@dataclass
class LandedCommit:
    payload_name: str
    sha: str
    committed_at: datetime
    status: str             # new (new content) | repeat (content landed before) | skipped (commit landed
    rows: int = 0           # by an earlier backfill) | rejected
    error: str | None = None


@dataclass
class BackfillReport:
    source_id: str
    commits: list[LandedCommit] = field(default_factory=list)
    bundled_loaded: int = 0
    error: str | None = None

    @property
    def landed(self) -> int:
        """Commits landed in this run (each added a snapshot unless an identical one existed)."""
        return sum(1 for commit in self.commits if commit.status in ("new", "repeat"))

    def table(self) -> tuple[list[str], list[list]]:
        rows = [[c.payload_name, c.committed_at, c.sha[:12], c.status, c.rows, c.error or ""]
                for c in self.commits]
        return ["file", "committed_at (UTC)", "commit", "status", "rows", "error"], rows


def sample_commits(commits: Iterable[Commit], every: str) -> list[Commit]:
    """The last commit of each UTC day, ISO week or month, oldest first."""
    last: dict[object, Commit] = {}
    for commit in sorted(commits, key=lambda c: c.committed_at):
        last[_period(commit.committed_at, every)] = commit
    return sorted(last.values(), key=lambda c: c.committed_at)


def run_backfill(request: BackfillRequest, settings: Settings, http: HttpClient | None = None,
                 run_id: str | None = None) -> BackfillReport:
    """`margins backfill`: land the sampled commits between since and until (whole UTC days)."""
    since = _day_start(request.since)
    until = _day_start(request.until + timedelta(days=1))
    return _backfill(request.source_id, settings, http, run_id,
                     lambda client, repo, path: sample_commits(client.list_commits(repo, path, since, until),
                                                               request.every))


def backfill_days(source_id: str, settings: Settings, first_day: date, last_day: date,
                  http: HttpClient | None = None, run_id: str | None = None) -> BackfillReport:
    """A range of Dagster partitions: for each day, the commit in force at its end (the last commit of the
    day, else the newest one before it)."""
    return _backfill(source_id, settings, http, run_id,
                     lambda client, repo, path: commits_in_force(client, repo, path, first_day, last_day))


def commits_in_force(client: GitHubClient, repo: str, path: str, first_day: date, last_day: date) -> list[Commit]:
    start = _day_start(first_day)
    commits = sample_commits(client.list_commits(repo, path, start, _day_start(last_day + timedelta(days=1))),
                             "day")
    if not commits or commits[0].committed_at.date() > first_day:
        before = client.latest_commit(repo, path, start)
        commits = ([before] if before else []) + commits
    return commits


def _backfill(source_id: str, settings: Settings, http: HttpClient | None, run_id: str | None,
              select: Callable[[GitHubClient, str, str], list[Commit]]) -> BackfillReport:
    source, git = get_source(source_id), GIT_SOURCES[source_id]
    report = BackfillReport(source_id)
    client_http = http or github_http_client()
    client = GitHubClient(settings, client_http, source_id)
    run_id = run_id or f"backfill-{uuid.uuid4()}"
    bundled_checked = False
    try:
        for git_file in git.files():
            commits = select(client, git.repo, git_file.path)
            if commits and not bundled_checked:
                report.bundled_loaded, bundled_checked = _ensure_bundled(source, settings, run_id), True
            for commit in commits:
                report.commits.append(_land_commit(client, source, settings, git.repo, git_file, commit, run_id))
    except FetchError as error:
        report.error = str(error)
    finally:
        if http is None:
            client_http.close()
    return report


def _land_commit(client: GitHubClient, source: Source, settings: Settings, repo: str, git_file: GitFile,
                 commit: Commit, run_id: str) -> LandedCommit:
    landed = LandedCommit(git_file.payload_name, commit.sha, commit.committed_at, "skipped")
    url = client.raw_url(repo, commit.sha, git_file.path)
    if _landed_before(settings, source.id, git_file, commit):
        return landed
    response = client.download(repo, commit.sha, git_file.path)
    payload = Payload(name=git_file.payload_name, content=response.content, mode="backfill", url=url,
                      observed_at=commit.committed_at)
    outcome = load_payload(source, settings, payload, run_id)
    landed.rows, landed.error = outcome.rows, outcome.error
    landed.status = "rejected" if outcome.status == "rejected" else "new" if outcome.is_new else "repeat"
    return landed


def _landed_before(settings: Settings, source_id: str, git_file: GitFile, commit: Commit) -> bool:
    """This commit's file was landed (or rejected) by an earlier backfill: its content cannot have changed."""
    with writer_lock(settings), connect_working(settings) as connection:
        return connection.execute(
            """select count(*) from raw.fetch_log
               where source = ? and mode = 'backfill' and status in ('ok', 'rejected') and payload_name = ?
                 and ends_with(url, ?)""",
            [source_id, git_file.payload_name, f"/{commit.sha}/{git_file.path}"]).fetchone()[0] > 0


def _ensure_bundled(source: Source, settings: Settings, run_id: str) -> int:
    """A source's bundled snapshots load on its first refresh only (when nothing is landed yet), so a
    backfill into a fresh warehouse loads them first, or they would never be loaded."""
    with writer_lock(settings), connect_working(settings) as connection:
        landed = connection.execute(
            "select count(*) from raw.payloads where source = ? and parse_status = 'parsed'", [source.id]
        ).fetchone()[0]
    if landed:
        return 0
    return sum(1 for payload in source.bundled() if load_payload(source, settings, payload, run_id).status == "ok")


def _period(moment: datetime, every: str) -> object:
    day = moment.astimezone(UTC).date()
    if every == "day":
        return day
    if every == "week":
        return day.isocalendar()[:2]
    return day.year, day.month


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except (AttributeError, ValueError):
        raise ValueError(f"{option} must be a date YYYY-MM-DD, got {text!r}") from None

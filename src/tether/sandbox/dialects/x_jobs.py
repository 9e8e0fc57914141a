"""X's asynchronous analytics in the sandbox: `POST` and `GET stats/jobs/accounts/:id`, and the
gzip result files at `/ton/advertiser-api-async-analytics/…` (ton.twimg.com, no signature).

A job's file is made when the job is created, from the sandbox's figures of that moment; the job
reports `PROCESSING` until `report_job_seconds` (a sandbox setting, 0 by default) have passed,
then `SUCCESS` with the file's URL. The sandbox keeps the latest jobs only.
"""

import gzip
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from tether.sandbox.dialects.x_api import ads, invalid, missing, reachable
from tether.sandbox.dialects.x_stats import Metrics, campaigns, days_asked, figures, metrics
from tether.sandbox.faults import sandbox_state
from tether.sandbox.metrics import served_days
from tether.sandbox.state import SandboxAccount

ENTITIES = ("ACCOUNT", "CAMPAIGN")
GROUPS = (
    "ENGAGEMENT",
    "BILLING",
    "VIDEO",
    "MEDIA",
    "WEB_CONVERSION",
    "MOBILE_CONVERSION",
    "LIFE_TIME_VALUE_MOBILE_CONVERSION",
)
GRANULARITIES = ("DAY", "TOTAL")
PLACEMENTS = ("ALL_ON_TWITTER", "PUBLISHER_NETWORK", "SPOTLIGHT", "TREND")
MAX_ENTITY_IDS = 20
MAX_JOB_IDS = 200
CONCURRENT_JOBS = 100
KEPT_JOBS = 10_000
# A finished job's file stays downloadable this long (X's example: two days).
FILE_SECONDS = 2 * 86400
FILES = "advertiser-api-async-analytics"

ton = APIRouter(prefix="/ton")


@dataclass
class Job:
    id: int
    account_id: str
    params: dict[str, Any]
    created_at: float
    # The gzip JSON file, and the name it is downloaded by.
    content: bytes = field(repr=False)
    name: str = field(default_factory=lambda: secrets.token_urlsafe(32))


class Jobs:
    """The jobs of every account, newest last."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._files: dict[str, Job] = {}

    def add(self, job: Job) -> None:
        while len(self._jobs) >= KEPT_JOBS:
            oldest = self._jobs.pop(next(iter(self._jobs)))
            self._files.pop(oldest.name, None)
        self._jobs[str(job.id)] = job
        self._files[job.name] = job

    def of(self, account_id: str, ids: list[str] | None) -> list[Job]:
        wanted = ids if ids is not None else list(self._jobs)
        found = (self._jobs.get(i) for i in wanted)
        return [job for job in found if job is not None and job.account_id == account_id]

    def file(self, name: str) -> Job | None:
        return self._files.get(name)


def jobs_of(request: Request) -> Jobs:
    found: Jobs = request.app.state.x_jobs
    return found


def done(request: Request, job: Job) -> bool:
    wait = sandbox_state(request).settings.report_job_seconds
    return time.time() >= job.created_at + wait


# -- creating a job --------------------------------------------------------------------------


def _listed(request: Request, name: str) -> list[str]:
    raw = request.query_params.get(name)
    if not raw:
        raise missing(request, name)
    return [item.strip() for item in raw.split(",") if item.strip()]


def _one_of(request: Request, name: str, allowed: tuple[str, ...]) -> str:
    value = request.query_params.get(name)
    if not value:
        raise missing(request, name)
    if value not in allowed:
        raise invalid(request, name, f"Expected one of {', '.join(allowed)}, got {value!r}")
    return value


def _entities(request: Request, account: SandboxAccount, account_id: str) -> tuple[str, list[str]]:
    entity = _one_of(request, "entity", ENTITIES)
    ids = _listed(request, "entity_ids")
    if len(ids) > MAX_ENTITY_IDS:
        raise invalid(request, "entity_ids", f"Up to {MAX_ENTITY_IDS} entity_ids may be given")
    known = {account_id} if entity == "ACCOUNT" else {c.id for c in campaigns(account)}
    for entity_id in ids:
        if entity_id not in known:
            raise invalid(request, "entity_ids", f"{entity} {entity_id} was not found")
    return entity, ids


def _groups(request: Request, entity: str) -> list[str]:
    groups = _listed(request, "metric_groups")
    for group in groups:
        if group not in GROUPS:
            raise invalid(request, "metric_groups", f"Unknown metric group {group!r}")
        if entity == "ACCOUNT" and group != "ENGAGEMENT":
            message = f"The metric group {group} is not available for the ACCOUNT entity"
            raise invalid(request, "metric_groups", message)
    return groups


def _file(request: Request, account: SandboxAccount, params: dict[str, Any]) -> bytes:
    """The job's result: the figures of each entity per day (or in total), gzip JSON."""
    daily = params["granularity"] == "DAY"
    days = days_asked(request, account, daily)
    history = sandbox_state(request).settings.history_days
    served = set(served_days(days[0], days[-1], history))
    data = []
    for entity_id in params["entity_ids"]:
        per_day = figures(account, entity_id, days, served, params["placement"])
        if not daily:
            per_day = [tuple(map(sum, zip(*[d for d in per_day if d], strict=True))) or None]
        found = metrics(per_day, params["metric_groups"], params["entity"] == "ACCOUNT")
        data.append({"id": entity_id, "id_data": [{"segment": None, "metrics": found}]})
    body = {
        "data_type": "stats",
        "time_series_length": len(days) if daily else 1,
        "data": data,
        "request": {"params": params},
    }
    return gzip.compress(json.dumps(body).encode())


def _params(request: Request, account: SandboxAccount, account_id: str) -> dict[str, Any]:
    """The job's parameters, checked, as X echoes them."""
    entity, ids = _entities(request, account, account_id)
    groups = _groups(request, entity)
    return {
        "start_time": request.query_params.get("start_time"),
        "end_time": request.query_params.get("end_time"),
        "entity": entity,
        "entity_ids": ids,
        "granularity": _one_of(request, "granularity", GRANULARITIES),
        "placement": _one_of(request, "placement", PLACEMENTS),
        "metric_groups": groups,
        "segmentation_type": None,
        "country": None,
        "platform": None,
    }


def _node(request: Request, job: Job, *, created: bool = False) -> dict[str, Any]:
    """A job as X describes it; its file's URL once it is done (never in the answer that
    creates it: X has only queued it then)."""
    finished = not created and done(request, job)
    made = _utc(job.created_at)
    ended = job.created_at + sandbox_state(request).settings.report_job_seconds
    return {
        **job.params,
        "url": _file_url(request, job) if finished else None,
        "id": job.id,
        "id_str": str(job.id),
        "account_id": job.account_id,
        "status": "SUCCESS" if finished else "PROCESSING",
        "expires_at": _utc(ended + FILE_SECONDS) if finished else None,
        "created_at": made,
        "updated_at": _utc(ended) if finished else made,
    }


def _file_url(request: Request, job: Job) -> str:
    root = request.scope.get("root_path", "")
    return f"{request.url.scheme}://{request.url.netloc}{root}/ton/{FILES}/{job.name}.json.gz"


def _utc(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _concurrency(request: Request, account_id: str) -> dict[str, str]:
    running = sum(not done(request, j) for j in jobs_of(request).of(account_id, None))
    remaining = max(0, CONCURRENT_JOBS - running)
    return {
        "X-Concurrent-Job-Limit": str(CONCURRENT_JOBS),
        "X-Concurrent-Job-Limit-Remaining": str(remaining),
    }


@ads.post("/{version}/stats/jobs/accounts/{account_id}")
async def create_job(request: Request, account_id: str, who: Metrics) -> Response:
    """A stats job of up to 20 entities over up to 90 days; its parameters in the query."""
    account = reachable(request, who, account_id)
    params = _params(request, account, account_id)
    content = _file(request, account, params)
    job = Job(10**18 + secrets.randbelow(9 * 10**17), account_id, params, time.time(), content)
    jobs_of(request).add(job)
    body = {"request": {"params": params}, "data": _node(request, job, created=True)}
    return JSONResponse(body, headers=_concurrency(request, account_id))


@ads.get("/{version}/stats/jobs/accounts/{account_id}")
async def list_jobs(request: Request, account_id: str, who: Metrics) -> Response:
    """The account's jobs, or those of `job_ids` (up to 200), with their state."""
    reachable(request, who, account_id)
    raw = request.query_params.get("job_ids")
    ids = [i.strip() for i in raw.split(",") if i.strip()] if raw else None
    if ids is not None and (len(ids) > MAX_JOB_IDS or not all(i.isdigit() for i in ids)):
        raise invalid(request, "job_ids", f"Expected up to {MAX_JOB_IDS} job ids")
    found = jobs_of(request).of(account_id, ids)
    echoed = {"job_ids": [int(i) for i in ids]} if ids is not None else {}
    body = {
        "request": {"params": {"account_id": account_id, **echoed}},
        "next_cursor": None,
        "data": [_node(request, job) for job in found],
    }
    return JSONResponse(body, headers=_concurrency(request, account_id))


@ton.get(f"/{FILES}/{{name}}.json.gz")
async def download(request: Request, name: str) -> Response:
    """A finished job's file: anyone with its URL may fetch it, as from X's own file host."""
    job = jobs_of(request).file(name)
    if job is None or not done(request, job):
        return Response("Not Found", status_code=404, media_type="text/plain")
    return Response(job.content, media_type="application/gzip")

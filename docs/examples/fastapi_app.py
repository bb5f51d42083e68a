"""Example: a FastAPI app that launches fine-tuning jobs and shows their status live (SSE).

Run it with one command, against the embedded emulator (no key, no network)::

    nox -s example
    # or: pip install -e '.[fastapi]' && python docs/examples/fastapi_app.py

then open http://127.0.0.1:8080. With MISTRAL_BASE_URL and MISTRAL_API_KEY set, it uses that
service instead of starting an emulator. With REDIS_URL set too (the redis extra), its workers
share one poller, so it can run as several (see docs/deployment.md)::

    mistral-jobs emulator --port 8000 --speed 10 &
    MISTRAL_BASE_URL=http://127.0.0.1:8000 MISTRAL_API_KEY=any REDIS_URL=redis://127.0.0.1:6379 \
        uvicorn --app-dir docs/examples fastapi_app:app --workers 3 --port 8080
"""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from mistral_jobs_async import AsyncClient
from mistral_jobs_async.emulator import Emulator
from mistral_jobs_async.fastapi import (
    ClientDep,
    JobsDep,
    install_error_handlers,
    job_events,
    mistral_lifespan,
)
from mistral_jobs_async.watcher import WatchConfig

SAMPLE = b"".join(
    b'{"messages": [{"role": "user", "content": "Q%d"}, {"role": "assistant", "content": "A%d"}]}\n'
    % (i, i)
    for i in range(20)
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The emulator (unless a real service is configured), then the client and the watchers."""
    if os.environ.get("MISTRAL_BASE_URL"):
        config = WatchConfig(fast_interval=0.5, base_interval=1.0, max_interval=3.0)
        redis_url = os.environ.get("REDIS_URL")
        sharing = None
        if redis_url:
            from mistral_jobs_async.sharing import SharingConfig  # noqa: PLC0415 (redis extra)

            namespace = os.environ.get("MISTRAL_JOBS_NAMESPACE", "mistral-jobs-example")
            sharing = SharingConfig(namespace=namespace, progress=True)
        async with mistral_lifespan(config=config, redis_url=redis_url, sharing=sharing)(app):
            yield
        return
    async with Emulator(seed=1, speed=10) as emulator:

        def make_client() -> AsyncClient:
            return AsyncClient("example-key", base_url=emulator.url)

        config = WatchConfig(fast_interval=0.5, base_interval=1.0, max_interval=3.0)
        async with mistral_lifespan(client=make_client, config=config)(app):
            yield


app = FastAPI(lifespan=lifespan, title="mistral_jobs_async example")
install_error_handlers(app)  # an unknown job is a 404, a rate limit a 429, an outage a 502


@app.get("/stats")
async def stats(jobs: JobsDep) -> dict[str, Any]:
    """What this worker spent polling (with Redis, only the leader polls)."""
    watcher = jobs.watchers["fine_tuning"]
    leading = getattr(watcher, "leading", None) is not None  # a shared watcher's lease
    return {"pid": os.getpid(), "leading": leading, "requests": watcher.stats.requests}


@app.get("/jobs/{job_id}")
async def get_job(job_id: str, client: ClientDep) -> dict[str, Any]:
    """One job (a 404 if the API has no such job)."""
    job = await client.fine_tuning.jobs.get(job_id)
    return {"id": job.id, "status": job.status, "fine_tuned_model": job.fine_tuned_model}


@app.post("/jobs")
async def launch(jobs: JobsDep) -> dict[str, Any]:
    """Upload a small training file and launch a job on it."""
    uploaded = await jobs.client.files.upload(io.BytesIO(SAMPLE), filename="sample.jsonl")
    job = await jobs.client.fine_tuning.jobs.create(
        model="open-mistral-7b",
        training_files=[uploaded.id],
        hyperparameters={"training_steps": 30},
        auto_start=True,
    )
    jobs.keep(job.id)  # polled from now on, even before a browser subscribes
    return {"id": job.id, "status": job.status}


@app.get("/jobs")
async def list_jobs(client: ClientDep) -> list[dict[str, Any]]:
    """The 20 newest jobs."""
    page = await client.fine_tuning.jobs.list(page_size=20)
    return [{"id": job.id, "status": job.status} for job in page.data]


@app.get("/jobs/{job_id}/events")
async def events(job_id: str, request: Request) -> Any:
    """The job's status changes as Server-Sent Events, until it ends."""
    return job_events(request, job_id)


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Training jobs</title>
<style>body{font-family:sans-serif;margin:2em}td,th{padding:.2em 1em;text-align:left}</style>
</head><body>
<h1>Training jobs</h1>
<button id="launch">Launch a job</button>
<table><thead><tr><th>job</th><th>status</th><th>train loss</th></tr></thead>
<tbody id="jobs"></tbody></table>
<script>
function follow(id, status) {
  const row = document.createElement("tr");
  row.innerHTML = `<td>${id}</td><td class="status" id="status-${id}">${status}</td>` +
    `<td class="loss" id="loss-${id}">-</td>`;
  document.getElementById("jobs").prepend(row);
  const source = new EventSource(`/jobs/${id}/events`);
  const show = (e) => {
    const data = JSON.parse(e.data);
    document.getElementById(`status-${id}`).textContent = data.status;
    if (data.terminal) source.close();
  };
  source.addEventListener("status", show);
  source.addEventListener("transition", show);
  source.addEventListener("checkpoint", (e) => {
    const point = JSON.parse(e.data);
    const loss = point.train_loss === null ? "-" : point.train_loss.toFixed(3);
    document.getElementById(`loss-${id}`).textContent = `step ${point.step}: ${loss}`;
  });
  source.addEventListener("vanished", () => source.close());
  source.addEventListener("error", (e) => {  // a server's error event, not a lost connection
    if (!e.data) return;
    document.getElementById(`status-${id}`).textContent = JSON.parse(e.data).detail;
    source.close();
  });
}
document.getElementById("launch").onclick = async () => {
  const job = await (await fetch("/jobs", {method: "POST"})).json();
  follow(job.id, job.status);
};
fetch("/jobs").then(r => r.json())
  .then(jobs => jobs.reverse().forEach(j => follow(j.id, j.status)));
</script>
</body></html>
"""


@app.get("/", response_class=HTMLResponse)
async def index() -> str:
    """The page: a launch button and a table whose statuses change live."""
    return PAGE


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))

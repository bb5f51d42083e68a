"""The watcher: launch 50 jobs and follow them all with one iterator, on a small budget.

``python docs/examples/watch_many.py`` runs it against the embedded emulator.
"""

from __future__ import annotations

import asyncio
import io
from collections import Counter

from mistral_jobs_async import AsyncClient
from mistral_jobs_async.emulator import Emulator
from mistral_jobs_async.watcher import JobVanished, PollFailed, Transition, WatchConfig

TRAINING = (
    b'{"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}\n'
)
CONFIG = WatchConfig(fast_interval=0.5, base_interval=1.0, max_interval=3.0)


async def main() -> None:
    """Launch, watch, start the parked ones, count the outcomes."""
    async with (
        Emulator(speed=20, seed=1) as emulator,
        AsyncClient("any-key", base_url=emulator.url) as client,
    ):
        uploaded = await client.files.upload(io.BytesIO(TRAINING), filename="train.jsonl")
        ids: list[str] = []
        parked: set[str] = set()
        for n in range(50):
            job = await client.fine_tuning.jobs.create(
                model="open-mistral-7b",
                training_files=[uploaded.id],
                hyperparameters={"training_steps": 20},
                auto_start=n % 10 != 0,  # every tenth job waits for start()
            )
            ids.append(job.id)
            if not job.auto_start:
                parked.add(job.id)
        finals: Counter[str] = Counter()
        async with client.fine_tuning.jobs.watch(ids, config=CONFIG) as events:
            async for event in events:
                if isinstance(event, Transition):
                    print(f"{event.job_id[:8]} {event.previous or '-'} -> {event.status}")
                    if event.status == "VALIDATED" and event.job_id in parked:
                        await client.fine_tuning.jobs.start(event.job_id)
                    if event.terminal:
                        finals[event.status] += 1
                elif isinstance(event, PollFailed):
                    print("poll failed, retrying:", event.error)
                elif isinstance(event, JobVanished):
                    print(event.job_id, "is gone")
        stats = events.watcher.stats
        print(dict(finals), f"in {stats.requests} requests ({stats.sweeps} list sweeps)")


if __name__ == "__main__":
    asyncio.run(main())

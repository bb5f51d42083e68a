"""The client: upload a file, launch a fine-tuning job, list jobs, wait for the end.

Runs against the embedded emulator, so it needs no key and no network:
``python docs/examples/client_basics.py``. Point it at the real service by setting
``MISTRAL_API_KEY`` (and leaving ``MISTRAL_BASE_URL`` unset).
"""

from __future__ import annotations

import asyncio
import io
import os

from mistral_jobs_async import AsyncClient, BadRequestError
from mistral_jobs_async.emulator import Emulator

TRAINING = b"".join(
    b'{"messages": [{"role": "user", "content": "Q%d"}, {"role": "assistant", "content": "A%d"}]}\n'
    % (i, i)
    for i in range(20)
)


async def launch(client: AsyncClient) -> None:
    """What the example shows, against whichever service ``client`` talks to."""
    uploaded = await client.files.upload(io.BytesIO(TRAINING), filename="train.jsonl")
    job = await client.fine_tuning.jobs.create(
        model="open-mistral-7b",
        training_files=[uploaded.id],
        hyperparameters={"training_steps": 10},
        suffix="example",
        auto_start=True,  # the service's default is false: the job would wait for start()
    )
    print("created", job.id, job.status)
    async for listed in client.fine_tuning.jobs.list(suffix="example"):
        print("listed", listed.id, listed.status)
    try:
        await client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=["nope"])
    except BadRequestError as error:  # the server's message, typed
        print("refused:", error.message)
    final = await client.fine_tuning.jobs.wait(job.id, timeout=600)
    print("ended", final.id, final.status, final.fine_tuned_model)


async def main() -> None:
    """Against the real service if a key is set (and no base URL), else the emulator."""
    if os.environ.get("MISTRAL_API_KEY") and not os.environ.get("MISTRAL_BASE_URL"):
        async with AsyncClient() as client:  # the real service
            await launch(client)
        return
    async with (
        Emulator(speed=50, seed=1) as emulator,
        AsyncClient("any-key", base_url=emulator.url) as client,
    ):
        await launch(client)


if __name__ == "__main__":
    asyncio.run(main())

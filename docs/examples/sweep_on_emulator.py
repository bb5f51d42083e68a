"""A sweep: 24 trials over learning rate and steps, 4 jobs at a time, the hopeless pruned.

``python docs/examples/sweep_on_emulator.py [PLOTS_DIR]`` runs it against the embedded
emulator (whose loss curves follow a known landscape: the best learning rate is 1e-4, more
steps help) and writes its two plots to PLOTS_DIR (default: ``sweep-plots``). Needs the
``sweep`` extra.
"""

from __future__ import annotations

import asyncio
import io
import sys

import optuna
from optuna.distributions import FloatDistribution, IntDistribution

from mistral_jobs_async import AsyncClient
from mistral_jobs_async.emulator import Emulator
from mistral_jobs_async.sweeps import Sweep, TrialUpdate, run_sweep
from mistral_jobs_async.watcher import WatchConfig

TRAINING = (
    b'{"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}\n'
)
#: The emulator runs 400 times faster than real time here: poll it as often.
FAST = WatchConfig(fast_interval=0.05, base_interval=0.1, max_interval=0.5, requests_per_second=50)


def show(update: TrialUpdate) -> None:
    """One line per trial that ends."""
    if update.state != "running":
        value = f"{update.value:.3f}" if update.value is not None else "-"
        rate, steps = update.params["learning_rate"], update.params["training_steps"]
        print(f"trial {update.number:>2} {update.state:<8} lr={rate:.1e} steps={steps} {value}")


async def main(plots: str) -> None:
    """Run the sweep, print the best trial and what early stopping saved, save the plots."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    async with (
        Emulator(speed=400, seed=3) as emulator,
        AsyncClient("any-key", base_url=emulator.url) as client,
    ):
        uploaded = await client.files.upload(io.BytesIO(TRAINING * 20), filename="train.jsonl")
        sweep = Sweep(
            base={"model": "open-mistral-7b", "training_files": [uploaded.id]},
            space={
                "learning_rate": FloatDistribution(1e-6, 1e-2, log=True),
                "training_steps": IntDistribution(100, 500, step=100),
            },
            trials=24,
            parallel=4,
            sampler=optuna.samplers.TPESampler(seed=7),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=30),
        )
        result = await run_sweep(client, sweep, watch=FAST, on_update=show)
    best = result.best
    assert best is not None
    print(f"best: trial {best.number}, objective {best.value:.3f}, {best.params}")
    print(f"trials: {result.counts()}")
    print(f"early stopping saved {result.steps_saved} of {result.steps_planned} steps")
    for path in result.save_plots(plots):
        print("wrote", path)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "sweep-plots"))

"""Several processes training one run with DistributedDataParallel (``torchrun ... -m cifar_core train``).

torchrun starts N copies of the ``train`` command and tells each its place through the
environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT). Every rank holds the whole
uint8 tensor (it is small) and draws the same shuffled order each epoch; each step every rank takes
its share (``rank::world``) of the same global batch, so a step sees exactly the images a
single-process run with that batch size sees, and DDP averages the gradients. Only rank 0 writes
the run folder (events, checkpoints, status); the others train silently. Each rank draws its own
augmentation parameters from a generator seeded by its rank, and rank 0's checkpoint carries every
rank's generator state, so a resume is exact for each rank. Without torchrun's variables (the
default) nothing here changes the single-process path.
"""

from __future__ import annotations

import datetime
import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from cifar_core.errors import ConfigError, RunError

# How long a rank waits for the others before giving up (a rank that never started).
TIMEOUT_ENV = "CIFAR_EXPLORER_DIST_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 120.0
AUGMENT_SEED_STRIDE = 1_000_003  # rank r's augmentation generator: seed + r * stride


@dataclass(frozen=True)
class World:
    """This process's place among the ranks of one run (1 of 1 without torchrun)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_writer(self) -> bool:
        """Only rank 0 writes the run folder."""
        return self.rank == 0


SINGLE = World()


def world_from_env() -> World:
    """The world torchrun describes in the environment, or a single process."""
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as exc:
        raise RunError(f"torchrun's RANK/WORLD_SIZE/LOCAL_RANK are not whole numbers ({exc}).") from exc
    if size < 1 or not 0 <= rank < size:
        raise RunError(f"Rank {rank} does not fit a world of {size} processes.")
    return World(rank, size, local_rank)


def device_for(world: World, device: torch.device) -> torch.device:
    """One GPU per rank on CUDA (by local rank); CPU ranks share the CPU."""
    if device.type == "cuda" and world.distributed:
        torch.cuda.set_device(world.local_rank)
        return torch.device("cuda", world.local_rank)
    return device


def join(world: World, device: torch.device) -> None:
    """Join the process group (NCCL on CUDA, Gloo on CPU); one sentence when a rank is missing."""
    if not world.distributed or dist.is_initialized():
        return
    timeout_s = float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S))
    backend = "nccl" if device.type == "cuda" else "gloo"
    try:
        dist.init_process_group(backend, rank=world.rank, world_size=world.size, timeout=datetime.timedelta(seconds=timeout_s))
        dist.barrier()
    except (RuntimeError, ValueError, OSError) as exc:  # c10d raises DistBackendError (a RuntimeError) on timeout
        raise RunError(
            f"Rank {world.rank} of {world.size} could not reach the other ranks within {timeout_s:g} s: start all "
            f"{world.size} processes together (torchrun --nproc_per_node {world.size} -m cifar_core train ...)."
        ) from exc


def leave(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def check_config(
    world: World, batch_size: int, budget_minutes: float | None, *, sync_batchnorm: bool = False, device: torch.device | None = None
) -> int:
    """The per-rank batch size; refuse settings a world of this size cannot honour."""
    if not world.distributed:
        return batch_size
    if sync_batchnorm and device is not None and device.type != "cuda":
        raise ConfigError("Synchronised BatchNorm needs GPUs (PyTorch's SyncBatchNorm is CUDA-only); drop --sync-bn on a CPU.")
    if batch_size % world.size:
        raise ConfigError(f"batch_size {batch_size} must divide evenly over {world.size} processes.")
    if budget_minutes is not None:
        raise ConfigError("A time budget is not supported with several processes yet; set epochs instead.")
    return batch_size // world.size


def wrap(model: nn.Module, world: World, device: torch.device, *, sync_batchnorm: bool) -> nn.Module:
    """DDP around ``model`` (BatchNorm statistics optionally synchronised across ranks)."""
    if not world.distributed:
        return model
    if sync_batchnorm:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside DDP (what checkpoints hold), or the model itself."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def shard(index: torch.Tensor, world: World) -> torch.Tensor:
    """This rank's share of one global batch."""
    return index[world.rank :: world.size] if world.distributed else index


def augment_generator(world: World, seed: int, shared: torch.Generator) -> torch.Generator:
    """Single process: the shared generator (unchanged behaviour); else a generator of this rank's own."""
    if not world.distributed:
        return shared
    return torch.Generator().manual_seed(seed + AUGMENT_SEED_STRIDE * world.rank)


def any_rank(flag: bool, world: World, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on any (e.g. a cancel seen by rank 0 stops them all)."""
    if not world.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def gather_states(state: torch.Tensor, world: World) -> list[torch.Tensor]:
    """Every rank's generator state, on every rank (rank 0 saves them all)."""
    if not world.distributed:
        return [state]
    states: list[torch.Tensor | None] = [None] * world.size
    dist.all_gather_object(states, state)
    return [s for s in states if s is not None]


def weights_digest(model: nn.Module) -> str:
    """SHA-256 of every parameter and buffer, in state-dict order (equal digests: equal weights)."""
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def finish(model: nn.Module, world: World) -> None:
    """End every rank on exactly the weights rank 0 saved, and print each rank's digest.

    DDP keeps parameters equal by averaging gradients, but BatchNorm's running statistics (buffers)
    last moved on each rank's own share of the final batch; rank 0's are the ones checkpointed, so
    they are broadcast. The digest lines let anyone (and the tests) see that the ranks agree.
    """
    for buffer in model.buffers():
        dist.broadcast(buffer, src=0)
    print(f"rank {world.rank}/{world.size}: final weights sha256 {weights_digest(model)}", file=sys.stderr, flush=True)

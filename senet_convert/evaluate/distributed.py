"""Sharding an evaluation across processes started by torchrun, and combining their results.

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous variables; without them this is one
process and every call here is a no-op. Process r scores the images at positions r, r + N, r + 2N, ...
of the sorted list: every image exactly once, no padding (DistributedSampler would repeat images to
even out the shards, counting them twice). The per-image results are gathered and the counts
summed, so the report equals one process's, image for image. Backends: NCCL on GPUs, gloo on CPUs.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import ConvertError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    device: str = "cpu"
    backend: str | None = None

    @property
    def leader(self) -> bool:
        return self.rank == 0

    def describe(self) -> str:
        if self.size == 1:
            return f"1 process on {self.device}"
        return f"{self.size} processes (torch.distributed, {self.backend}), rank 0 on {self.device}"


def _device(option: str, local_rank: int) -> str:
    import torch

    if option == "auto":
        option = "cuda" if torch.cuda.is_available() else "cpu"
    if option == "cuda":
        if not torch.cuda.is_available():
            raise ConvertError("--device cuda: no CUDA device is available")
        return f"cuda:{local_rank % torch.cuda.device_count()}"
    return "cpu"


def join(device_option: str = "auto") -> World:
    """This process's place: alone, or in the torchrun group it was started in."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    device = _device(device_option, local)
    if size == 1:
        return World(device=device)
    import torch
    import torch.distributed as dist

    backend = "nccl" if device.startswith("cuda") else "gloo"
    if device.startswith("cuda"):
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return World(rank, size, local, device, backend)


def shard(count: int, world: World) -> range:
    return range(world.rank, count, world.size)


def _tensor_device(world: World) -> str:
    return world.device if world.backend == "nccl" else "cpu"


def sum_counts(world: World, array: np.ndarray) -> np.ndarray:
    """`array` (int64) summed over the processes."""
    if world.size == 1:
        return array
    import torch
    import torch.distributed as dist

    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.int64)).to(_tensor_device(world))
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.cpu().numpy()


def most(world: World, value: float) -> float:
    """The largest `value` over the processes (the slowest process's time)."""
    if world.size == 1:
        return value
    import torch
    import torch.distributed as dist

    tensor = torch.tensor([value], dtype=torch.float64, device=_tensor_device(world))
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return float(tensor.item())


def gather(world: World, obj) -> list:
    """Every process's `obj`, in rank order (on every process)."""
    if world.size == 1:
        return [obj]
    import torch.distributed as dist

    out = [None] * world.size
    dist.all_gather_object(out, obj)
    return out


def leave(world: World) -> None:
    if world.size > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()

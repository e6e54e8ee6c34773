"""Run under torchrun (2 processes, gloo): gradients of the gathered contrastive loss, averaged
over ranks as DDP does, written by rank 0 for tests/test_training_contrastive_ddp.py."""

import json
import sys

import torch
import torch.distributed as dist

from uts.training.contrastive import contrastive_loss


def problem():
    """The full batch (5 clips) and the parameters, the same on every rank."""
    g = torch.Generator().manual_seed(0)
    x, z = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    wa, wt = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    labels = torch.tensor([[1, 1, 0], [1, 0, 1], [1, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=torch.float)
    return x, z, wa, wt, torch.tensor(1.2), labels


SLICES = [slice(0, 3), slice(3, 5)]  # uneven: 3 clips on rank 0, 2 on rank 1


def main(out_path: str, targets: str) -> None:
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    x, z, wa, wt, scale, labels = problem()
    params = [p.clone().requires_grad_(True) for p in (wa, wt, scale)]
    sl = SLICES[rank]
    loss = contrastive_loss(x[sl] @ params[0], z[sl] @ params[1], params[2], labels[sl], targets)
    loss.backward()
    grads = []
    for p in params:  # what DDP does: mean of the ranks' gradients
        dist.all_reduce(p.grad)
        grads.append((p.grad / world).tolist())
    if rank == 0:
        with open(out_path, "w") as fh:
            json.dump({"loss": loss.item(), "grads": grads}, fh)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

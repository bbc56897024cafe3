"""The history buffer of generated images that discriminators are trained on (Shrivastava et
al. 2017, as used by upstream CycleGAN), with a random stream of its own."""
from __future__ import annotations

import torch


class ImagePool:
    """Buffer of up to ``pool_size`` previously generated images.

    :meth:`query` takes a batch ``[N, C, H, W]`` and returns a batch of the same shape: while
    the pool fills, each image is stored and returned as is; once full, each image is, with
    probability 1/2, returned as is, or else swapped with a random stored image (the stored one
    is returned, the new one takes its place). ``pool_size == 0`` returns the input unchanged.
    The choices come from a ``torch.Generator`` seeded with ``seed`` (global RNG untouched).
    """

    def __init__(self, pool_size: int = 50, seed: int = 0) -> None:
        if pool_size < 0:
            raise ValueError(f"ImagePool: pool_size must be >= 0, got {pool_size}")
        self.pool_size = pool_size
        self.images: list[torch.Tensor] = []
        self.generator = torch.Generator().manual_seed(int(seed))

    def __len__(self) -> int:
        return len(self.images)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``[N, C, H, W]`` to show the discriminator (detached from the graph)."""
        images = images.detach()
        if self.pool_size == 0:
            return images
        out = []
        for image in images:
            image = image.unsqueeze(0)
            if len(self.images) < self.pool_size:
                self.images.append(image.clone())
                out.append(image)
                continue
            if torch.rand((), generator=self.generator).item() > 0.5:
                k = int(torch.randint(self.pool_size, (), generator=self.generator).item())
                out.append(self.images[k])
                self.images[k] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict:
        """The stored images and the random stream's state (tensors; ``weights_only``-safe)."""
        return {"pool_size": self.pool_size, "images": [x.cpu() for x in self.images],
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict, device: str | torch.device = "cpu") -> None:
        """Restore what :meth:`state_dict` returned, the images on ``device`` (the device the
        queried batches live on)."""
        if int(state["pool_size"]) != self.pool_size:
            raise ValueError(f"ImagePool: a state of a pool of {state['pool_size']} images "
                             f"cannot fill a pool of {self.pool_size}")
        self.images = [x.to(device).clone() for x in state["images"]]
        self.generator.set_state(state["generator"])

"""Prune a generator of your own architecture end to end: search, slim, fine-tune, export.

The generator below (``TinyUNet``: strided convs with affine InstanceNorm, a residual block,
up-sampling by interpolation + conv, a U-Net skip concatenation) is first taught to imitate the
shipped horse→zebra teacher on the embedded synthetic horses. Its channel groups are then
discovered from its traced graph, masks are evolved under a size budget (one generator, no
partner: each candidate is distilled briefly toward the original and scored on held-out
images), the best mask is slimmed, fine-tuned by distillation, saved as a state dict plus the
JSON that rebuilds it, reloaded, and exported to TorchScript.

    python examples/custom_generator.py [--generations 4] [--budget 0.5] [--out runs/own]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import deap_gan_prune as dgp
from deap_gan_prune.export import export_generator, verify_export
from deap_gan_prune.fitness import BriefDistillation
from deap_gan_prune.nets.checkpoints import architecture_of
from deap_gan_prune.synthetic import SyntheticHorseZebra
from deap_gan_prune.teacher import load_teacher


class TinyUNet(nn.Module):
    """[N, 3, H, W] → [N, 3, H, W] in [-1, 1]; H and W divisible by 4."""

    def __init__(self, ngf: int = 8) -> None:
        super().__init__()
        norm = lambda c: nn.InstanceNorm2d(c, affine=True)  # noqa: E731
        self.enc1 = nn.Sequential(nn.Conv2d(3, ngf, 3, padding=1), norm(ngf), nn.ReLU(True))
        self.enc2 = nn.Sequential(nn.Conv2d(ngf, 2 * ngf, 3, 2, 1), norm(2 * ngf),
                                  nn.ReLU(True))
        self.res = nn.Sequential(nn.Conv2d(2 * ngf, 2 * ngf, 3, padding=1), norm(2 * ngf),
                                 nn.ReLU(True), nn.Conv2d(2 * ngf, 2 * ngf, 3, padding=1),
                                 norm(2 * ngf))
        self.up = nn.Sequential(nn.Conv2d(2 * ngf, ngf, 3, padding=1), norm(ngf), nn.ReLU(True))
        self.out = nn.Conv2d(2 * ngf, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.enc1(x)
        y = self.enc2(skip)
        y = y + self.res(y)
        y = self.up(F.interpolate(y, scale_factor=2, mode="nearest"))
        return torch.tanh(self.out(torch.cat([skip, y], 1)))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--generations", type=int, default=4)
    p.add_argument("--population", type=int, default=8)
    p.add_argument("--budget", type=float, default=0.5, help="size ratio to meet")
    p.add_argument("--size", type=int, default=32, help="image size in pixels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/own")
    args = p.parse_args(argv)
    out = Path(args.out)
    torch.manual_seed(args.seed)
    # So that the saved JSON can name the class as an importable "module:Class".
    sys.path.insert(0, str(Path(__file__).resolve().parent))

    horses = SyntheticHorseZebra(n=48, size=args.size, seed=args.seed).images("A")
    teacher = load_teacher().g_a
    net = TinyUNet(ngf=8)
    BriefDistillation.from_generator(teacher, horses, steps=150, lr=2e-3, batch_size=8,
                                     seed=args.seed)(net)

    # 1. Channel groups from the traced graph.
    space = dgp.space_of(net, horses[:1])
    print(f"{len(space.groups)} channel groups, {space.n_bits} bits: "
          + ", ".join(f"{g.name} ({g.size})" for g in space.groups))

    # 2. Search one generator's masks (no partner): first 16 horses score, the next 32 adapt.
    config = dgp.SearchConfig(population=args.population, generations=args.generations,
                              budget=args.budget, adapt_steps=5, n_images=16,
                              adapt_images=32, seed=args.seed)
    result = dgp.search(dgp.Task({"A": net}, {"A": horses}), config,
                        dgp.RunOptions(progress=False))
    mask, searched, terms = result.masks["A"], result.spaces["A"], result.terms["A"]
    print(f"best mask: {terms['size_ratio']:.3f} of the parameters, "
          f"L1 to the original {terms['score']:.4f}")

    # 3. Slim, then fine-tune by distillation toward the original.
    small = dgp.slim(net, mask, searched)
    BriefDistillation.from_generator(net, horses, steps=60, lr=1e-3, batch_size=8,
                                     seed=args.seed)(small)

    # 4. Save (state dict + JSON), reload with weights_only, export and check.
    dgp.save_generator(small, out / "slim.pth",
                       architecture=architecture_of("custom_generator:TinyUNet", {"ngf": 8}),
                       space=searched, bits=mask)
    reloaded = dgp.load_generator(out / "slim.pth",  # the class its JSON may name
                                  architecture=architecture_of("custom_generator:TinyUNet"))
    with torch.no_grad():
        same = torch.equal(reloaded(horses[:4]), small.eval()(horses[:4]))
    export_generator(reloaded, out / "slim.pt", "torchscript", args.size)
    diff = verify_export(out / "slim.pt", reloaded, args.size)
    print(f"parameters {dgp.count_module_parameters(net):,} -> "
          f"{dgp.count_module_parameters(reloaded):,}; reloaded identical: {same}; "
          f"TorchScript max |diff| {diff:.2g}; wrote {out}")
    return 0 if same and diff < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())

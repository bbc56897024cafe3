"""Fitness evaluations per second: our GeneratorFitness against a straightforward reference.

The reference scores a mask as the released code does: deep-copy the generator, zero the
weights and bias of every masked filter (the partner's too), run the ORIGINAL generator and
discriminator again for every candidate, one image at a time, and compute the same
F = 1 / (L_dis + λ·L_cyc + γ·N). Both see the same stream of masks, the kind a GA produces:
``--generations`` populations of ``--population`` Bernoulli(0.5) masks where a
``--repeat-share`` of each population repeats masks already seen (duplicates and carried
elites); generation 0 has no cycle partner, later ones a fixed partner mask (the other
population's best, which often stays). Both must give the same F (relative 1e-4).

The adapted fitness (the library's default) costs more per candidate: each is distilled for
``--adapt-steps`` steps first. Its seconds per distinct candidate are measured on the first
``--adapt-masks`` masks of the stream (adaptation images: 32 further synthetic images), beside
the paper's F per distinct candidate, and reported as a cost ratio.

Models: the shipped teacher when its weights exist (``deap_gan_prune/teacher``), else random
networks of its architecture (ResnetGenerator(ngf=16, n_blocks=6), NLayerDiscriminator(ndf=32))
on 16 synthetic 64x64 images. ``--quick`` is a toy run (tiny networks) for the test suite.

    python benchmarks/search_throughput.py [--quick] [--device cpu] [--out result.json]
"""
from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import time
from pathlib import Path

import torch

from deap_gan_prune.core.maskspace import MaskSpace
from deap_gan_prune.fitness.adapted import Adaptation, AdaptedFitness
from deap_gan_prune.fitness.base import Partner, Scoring
from deap_gan_prune.fitness.paper import GeneratorFitness
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.models import NLayerDiscriminator, ResnetGenerator
from deap_gan_prune.synthetic import SyntheticHorseZebra
from deap_gan_prune.teacher import TEACHER_DIR, load_teacher

LAMBDA_CYCLE, GAMMA = 10.0, 1.0


def build_models(quick: bool, device: str):
    """``(g_a, g_b, d_a, name)``: the teacher if shipped (not with ``quick``), else random."""
    if not quick and (TEACHER_DIR / "latest_net_G_A.pth").is_file():
        teacher = load_teacher(device)
        return teacher.g_a, teacher.g_b, teacher.d_a, "teacher"
    torch.manual_seed(0)
    ngf, n_blocks, ndf = (4, 2, 8) if quick else (16, 6, 32)
    nets = (ResnetGenerator(ngf=ngf, n_blocks=n_blocks),
            ResnetGenerator(ngf=ngf, n_blocks=n_blocks), NLayerDiscriminator(ndf=ndf))
    return (*(n.to(device).eval() for n in nets), f"random ngf={ngf} n_blocks={n_blocks}")


def mask_stream(space: MaskSpace, population: int, generations: int, repeat_share: float,
                seed: int = 0) -> list[list[list[int]]]:
    """Per generation, ``population`` valid masks; ``repeat_share`` of them repeat earlier
    masks (of this or a previous generation), the rest are fresh Bernoulli(0.5) masks."""
    rng = random.Random(seed)

    def fresh() -> list[int]:
        while True:
            bits = [int(rng.random() < 0.5) for _ in range(space.n_bits)]
            if space.is_valid(bits):
                return bits

    seen: list[list[int]] = []
    stream = []
    for _ in range(generations):
        n_repeats = round(repeat_share * population)
        gen = [fresh() for _ in range(population - n_repeats)]
        pool = seen + gen
        gen += [list(rng.choice(pool)) for _ in range(n_repeats)]
        rng.shuffle(gen)
        seen += gen
        stream.append(gen)
    return stream


# -- the reference -----------------------------------------------------------------------------
def zero_filters(generator: ResnetGenerator, bits: list[int],
                 space: MaskSpace) -> ResnetGenerator:
    """Zero (in place) the weights and bias of the output filters where ``bits`` (a flat mask
    of ``space``) is 0, in every conv that writes the group: the stream's bits apply to the
    stream conv and to every block's second conv."""
    groups = space.split(bits)
    modules = dict(generator.named_modules())
    with torch.no_grad():
        for term in space.convs:
            if term.out_group < 0:
                continue
            group = space.groups[term.out_group]
            mask = groups[group.name]
            dropped = torch.tensor([mask[c // group.block] == 0 for c in range(group.channels)])
            conv = modules[term.name]
            if term.transposed:
                conv.weight[:, dropped] = 0
            else:
                conv.weight[dropped] = 0
            if conv.bias is not None:
                conv.bias[dropped] = 0
    return generator


@torch.no_grad()
def reference_fitness(g, d, partner_g, images, space, partner_space, bits, partner_bits):
    """F of ``bits`` the released code's way (deep copies, zeroed filters, batch 1)."""
    pruned = zero_filters(copy.deepcopy(g), bits, space)
    partner = (zero_filters(copy.deepcopy(partner_g), partner_bits, partner_space)
               if partner_bits is not None else None)
    l_dis = l_cyc = 0.0
    for x in images:
        x = x[None]
        original = g(x)
        fake = pruned(x)
        l_dis += (d(fake) - d(original)).pow(2).mean().item()
        if partner is not None:
            l_cyc += (partner(fake) - x).abs().mean().item()
    m = len(images)
    loss = l_dis / m + LAMBDA_CYCLE * l_cyc / m + GAMMA * space.size_ratio(bits)
    return 1.0 / loss


def adapted_cost(g_a, images: torch.Tensor, adapt_images: torch.Tensor, space: MaskSpace,
                 masks: list, steps: int, device: str) -> dict:
    """Seconds per candidate of the adapted fitness on ``masks`` (all distinct)."""
    fitness = AdaptedFitness(g_a, space, images, Scoring(device=device),
                             adaptation=Adaptation(adapt_images, steps))
    fitness.reference()
    start = time.perf_counter()
    scores = [fitness.terms(bits)["score"] for bits in masks]
    seconds = time.perf_counter() - start
    return {"steps": steps, "candidates": len(masks), "adapt_images": adapt_images.shape[0],
            "seconds": seconds, "seconds_per_candidate": seconds / len(masks),
            "scores": scores}


def run(quick: bool, device: str, population: int, generations: int, repeat_share: float,
        batch: tuple[int, int], adapt_steps: int = 30, adapt_masks: int = 12) -> dict:
    """``batch``: (images, pixels of their side)."""
    n_images, size = batch
    g_a, g_b, d_a, models = build_models(quick, device)
    images = SyntheticHorseZebra(n=n_images, size=size, seed=0, split="test").images("A")
    images = images.to(device)
    space_a, space_b = space_of(g_a, images), space_of(g_b, images)
    stream = mask_stream(space_a, population, generations, repeat_share)
    partner = mask_stream(space_b, 1, 1, 0.0, seed=1)[0][0]
    jobs = [(bits, None if gen == 0 else partner) for gen, masks in enumerate(stream)
            for bits in masks]

    start = time.perf_counter()
    fitness = GeneratorFitness(g_a, space_a, images,
                               Scoring(gamma=GAMMA, batch_size=n_images, device=device),
                               discriminator=d_a, partner=Partner(g_b, space_b, LAMBDA_CYCLE))
    ours = [fitness(bits, partner=p)[0] for bits, p in jobs]
    ours_s = time.perf_counter() - start

    start = time.perf_counter()
    reference = [reference_fitness(g_a, d_a, g_b, images, space_a, space_b, bits, p)
                 for bits, p in jobs]
    reference_s = time.perf_counter() - start

    worst = max(abs(a - b) / abs(b) for a, b in zip(ours, reference))
    distinct = list({tuple(b): b for b in stream[0]}.values())[:adapt_masks]
    extra = SyntheticHorseZebra(n=n_images + (8 if quick else 32), size=size, seed=0,
                                split="train").images("A")[n_images:].to(device)
    adapted = adapted_cost(g_a, images, extra, space_a, distinct, adapt_steps, device)
    unique = len({(tuple(b), p is None) for b, p in jobs})
    adapted["paper_seconds_per_candidate"] = ours_s / unique
    adapted["cost_ratio"] = adapted["seconds_per_candidate"] / adapted[
        "paper_seconds_per_candidate"]
    return {"models": models, "device": device, "threads": torch.get_num_threads(),
            "image_size": size, "n_images": n_images, "population": population,
            "generations": generations, "repeat_share": repeat_share,
            "evaluations": len(jobs), "unique_evaluations": unique, "adapted": adapted,
            "ours": {"seconds": ours_s, "evals_per_s": len(jobs) / ours_s},
            "reference": {"seconds": reference_s, "evals_per_s": len(jobs) / reference_s},
            "ratio": reference_s / ours_s, "max_relative_difference": worst,
            "values_equal": worst <= 1e-4,
            "fitness": {"ours": ours, "reference": reference}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a toy run (tiny networks)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own choice)")
    parser.add_argument("--population", type=int, default=None)
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--repeat-share", type=float, default=0.25)
    parser.add_argument("--adapt-steps", type=int, default=30,
                        help="distillation steps of the adapted fitness (default 30)")
    parser.add_argument("--adapt-masks", type=int, default=12,
                        help="distinct masks the adapted fitness is timed on (default 12)")
    parser.add_argument("--out", type=Path, default=None, help="write the result as JSON")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    population = args.population or (6 if args.quick else 32)
    n_images, size = (4, 32) if args.quick else (16, 64)
    generations = 2 if args.quick else args.generations
    result = run(args.quick, args.device, population, generations, args.repeat_share,
                 (n_images, size), 2 if args.quick else args.adapt_steps,
                 3 if args.quick else args.adapt_masks)
    print(f"{result['models']}, {n_images} images of {size}x{size}, {result['evaluations']} "
          f"evaluations ({result['unique_evaluations']} distinct), {result['threads']} "
          f"threads on {args.device}")
    print(f"{'implementation':<12}{'seconds':>10}{'evals/s':>10}")
    for name in ("ours", "reference"):
        print(f"{name:<12}{result[name]['seconds']:>10.2f}{result[name]['evals_per_s']:>10.2f}")
    print(f"{'ratio':<12}{result['ratio']:>20.2f}x  (max relative difference of F "
          f"{result['max_relative_difference']:.1e})")
    a = result["adapted"]
    print(f"adapted fitness ({a['steps']} steps, {a['adapt_images']} adaptation images): "
          f"{a['seconds_per_candidate']:.3f} s per candidate against "
          f"{a['paper_seconds_per_candidate']:.3f} s for the paper's F "
          f"({a['cost_ratio']:.1f}x the cost)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    if not result["values_equal"]:
        print("error: the two implementations disagree on F", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

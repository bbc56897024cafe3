"""The upstream ResNet's mask space written by hand from its widths: the oracle that the traced
space (``nets.groups.space_of``) is tested against, and a torch-free space for the operator
tests.

Groups in bit order: first, down1, stream, each block's inner width, up1, up2, named after the
first conv writing each (``model.1``, ``model.4``, ``model.7``, ``model.{10+b}.conv_block.1``,
``model.{10+n}``, ``model.{13+n}``); ``layout="tied"`` makes the stream and every block's inner
width one group (named ``model.7``).
"""
from __future__ import annotations

from deap_gan_prune.core.maskspace import MaskSpace
from deap_gan_prune.core.terms import ConvTerm, NormTerm, SpaceTerms
from deap_gan_prune.core.widths import GeneratorWidths


def resnet_terms(widths: GeneratorWidths, layout: str = "independent", dropout: bool = False,
                 size: int = 8) -> SpaceTerms:
    """The groups, convs and norms of ``ResnetGenerator(widths=widths, use_dropout=dropout)``
    with positions counted at ``size`` x ``size`` pixels (a multiple of 4)."""
    w, nb = widths, widths.n_blocks
    if layout == "tied" and any(m != w.stream for m in w.inner):
        raise ValueError("the tied layout needs every block's inner width equal to the "
                         f"stream width ({w.stream}); got {list(w.inner)}")
    inner = [f"inner{b}" for b in range(nb)]
    names = ["first", "down1", "stream", *([] if layout == "tied" else inner), "up1", "up2"]
    index = {n: i for i, n in enumerate(names)}
    group = {**index, **(dict.fromkeys(inner, index["stream"]) if layout == "tied" else {})}
    width = {"first": w.first, "down1": w.down1, "stream": w.stream, "up1": w.up1,
             "up2": w.up2, **dict(zip(inner, w.inner))}
    module = {"first": "model.1", "down1": "model.4", "stream": "model.7",
              "up1": f"model.{10 + nb}", "up2": f"model.{13 + nb}",
              **{f"inner{b}": f"model.{10 + b}.conv_block.1" for b in range(nb)}}
    full, half, quarter = size * size, (size // 2) ** 2, (size // 4) ** 2
    padded, block_in = (size + 6) ** 2, (size // 4 + 2) ** 2

    def conv(name: str, reads: str | None, writes: str | None, kernel: int, positions: int,
             in_positions: int, transposed: bool = False) -> ConvTerm:
        n_in = w.input_nc if reads is None else width[reads]
        out = w.output_nc if writes is None else width[writes]
        in_groups = (-1,) * n_in if reads is None else (group[reads],) * n_in
        return ConvTerm(name, transposed, kernel, True, -1 if writes is None else group[writes],
                        out, in_groups, tuple(range(n_in)), in_positions, positions)

    second = 6 if dropout else 5
    convs = [conv("model.1", None, "first", 49, full, padded),
             conv("model.4", "first", "down1", 9, half, full),
             conv("model.7", "down1", "stream", 9, quarter, half)]
    norms = [NormTerm("model.2", group["first"], w.first, False, False),
             NormTerm("model.5", group["down1"], w.down1, False, False),
             NormTerm("model.8", group["stream"], w.stream, False, False)]
    for b in range(nb):
        block = f"model.{10 + b}.conv_block"
        convs += [conv(f"{block}.1", "stream", inner[b], 9, quarter, block_in),
                  conv(f"{block}.{second}", inner[b], "stream", 9, quarter, block_in)]
        norms += [NormTerm(f"{block}.2", group[inner[b]], w.inner[b], False, False),
                  NormTerm(f"{block}.{second + 1}", group["stream"], w.stream, False, False)]
    convs += [conv(f"model.{10 + nb}", "stream", "up1", 9, half, quarter, transposed=True),
              conv(f"model.{13 + nb}", "up1", "up2", 9, full, half, transposed=True),
              conv(f"model.{17 + nb}", "up2", None, 49, full, padded)]
    norms += [NormTerm(f"model.{11 + nb}", group["up1"], w.up1, False, False),
              NormTerm(f"model.{14 + nb}", group["up2"], w.up2, False, False)]
    members = {module["stream"]: tuple(module[n] for n in ("stream", *inner))} \
        if layout == "tied" else None
    return SpaceTerms(tuple((module[n], width[n]) for n in names), tuple(convs), tuple(norms),
                      (size, size), w.input_nc, blocks={}, members=members)


def resnet_space(widths: GeneratorWidths, layout: str = "independent",
                 min_keep: int | dict[str, int] = 1, dropout: bool = False,
                 size: int = 8) -> MaskSpace:
    """The mask space of :func:`resnet_terms` (no torch, no tracing)."""
    return MaskSpace(resnet_terms(widths, layout, dropout, size), min_keep)


def group_name(widths: GeneratorWidths, slot: str) -> str:
    """The group name of a width slot (``"stream"``, ``"inner1"``, ...) of the ResNet."""
    nb = widths.n_blocks
    names = {"first": "model.1", "down1": "model.4", "stream": "model.7",
             "up1": f"model.{10 + nb}", "up2": f"model.{13 + nb}"}
    return names[slot] if slot in names else f"model.{10 + int(slot[5:])}.conv_block.1"

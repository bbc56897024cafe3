"""L1 filter-norm importance scores aligned with the mask space's bits."""
import pytest
import torch
from resnet_oracle import group_name, resnet_space

from deap_gan_prune import GeneratorWidths, ResnetGenerator, space_of
from deap_gan_prune.nets.importance import l1_importance

WIDTHS = GeneratorWidths.default(ngf=4, n_blocks=2)


def generator(seed=0):
    torch.manual_seed(seed)
    return ResnetGenerator(widths=WIDTHS)


def zero_output_filter(conv, j):
    with torch.no_grad():
        if isinstance(conv, torch.nn.ConvTranspose2d):
            conv.weight[:, j] = 0
        else:
            conv.weight[j] = 0


def group_scores(scores, space, slot):
    """The scores of the group of width slot ``slot`` ("first", "stream", "inner1", ...)."""
    g = space.group(group_name(WIDTHS, slot))
    return scores[g.offset:g.stop]


def test_scores_are_floats_aligned_with_bits():
    gen = generator()
    space = space_of(gen)
    scores = l1_importance(gen, space)
    assert len(scores) == space.n_bits
    assert all(type(s) is float and s > 0 for s in scores)
    first = gen.slot_convs()["first"].weight
    assert group_scores(scores, space, "first") == pytest.approx(
        first.abs().sum(dim=(1, 2, 3)).tolist())
    up1 = gen.slot_convs()["up1"].weight                              # [in, out, k, k]
    assert group_scores(scores, space, "up1") == pytest.approx(
        up1.abs().sum(dim=(0, 2, 3)).tolist())


@pytest.mark.parametrize(("slot", "j"), [("first", 2), ("down1", 5), ("inner1", 7), ("up1", 3),
                                         ("up2", 1)])
def test_zeroed_filter_scores_lowest_in_its_group(slot, j):
    gen = generator()
    space = space_of(gen)
    zero_output_filter(gen.slot_convs()[slot], j)
    part = group_scores(l1_importance(gen, space), space, slot)
    assert min(range(len(part)), key=part.__getitem__) == j
    assert part[j] == 0.0


def test_transposed_conv_input_channel_is_not_an_output_filter():
    gen = generator()
    space = space_of(gen)
    with torch.no_grad():
        gen.slot_convs()["up1"].weight[3] = 0                        # input channel 3 of up1
    part = group_scores(l1_importance(gen, space), space, "up1")
    assert min(part) > 0


@pytest.mark.parametrize("layout", ["independent", "tied"])
def test_stream_combines_every_writer(layout):
    gen = generator(1)
    space = space_of(gen, layout=layout)
    convs, j = gen.slot_convs(), 6
    writers = ["stream", "stream.0", "stream.1"]
    if layout == "tied":
        writers += ["inner0", "inner1"]
    before = group_scores(l1_importance(gen, space), space, "stream")
    zero_output_filter(convs[writers[0]], j)                        # one writer only: lower
    partial = group_scores(l1_importance(gen, space), space, "stream")
    assert partial[j] < before[j]
    for name in writers[1:]:
        zero_output_filter(convs[name], j)
    part = group_scores(l1_importance(gen, space), space, "stream")
    assert min(range(len(part)), key=part.__getitem__) == j
    assert part[j] == 0.0


def test_mismatched_space_is_rejected():
    with pytest.raises(ValueError, match="widths"):
        l1_importance(generator(), resnet_space(GeneratorWidths.default(ngf=8, n_blocks=2)))

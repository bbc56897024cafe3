"""Depthwise convolutions and GroupNorm with several channels per norm-group: channel groups,
masked == slim, exact sizes, slim layer attributes, files; refused grouped convs."""
import json
import random

import pytest
import torch
from generic_nets import GroupedConvNet, GroupNormNet, MixedGroupNormNet, SeparableNet
from torch import nn

from deap_gan_prune import (
    MaskSpace,
    count_module_macs,
    count_module_parameters,
    load_generator,
    save_generator,
)
from deap_gan_prune.nets.checkpoints import architecture_of
from deap_gan_prune.nets.groups import TracingError, space_of
from deap_gan_prune.nets.slimming import masked, slim


def _randomised(net: nn.Module) -> nn.Module:
    """``net`` in eval mode with non-trivial norm weights and running statistics."""
    torch.manual_seed(0)
    with torch.no_grad():
        for m in net.modules():
            if getattr(m, "weight", None) is not None and isinstance(
                    m, (nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d)):
                m.weight.normal_()
                m.bias.normal_()
            if getattr(m, "running_mean", None) is not None:
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def _bits(space, seed):
    rng = random.Random(seed)
    bits = [int(rng.random() < 0.5) for _ in range(space.n_bits)]
    for g in space.groups:
        bits[g.offset + rng.randrange(g.size)] = 1
    return bits


@pytest.fixture(scope="module", params=["separable", "groupnorm"])
def net_space(request):
    torch.manual_seed(0)
    net = _randomised(SeparableNet(4, 2) if request.param == "separable" else GroupNormNet())
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    return request.param, net, x, space_of(net, x[:1])


@pytest.mark.parametrize("seed", range(5))
def test_masked_equals_slim_with_exact_counts(net_space, seed):
    _, net, x, space = net_space
    bits = _bits(space, seed)
    small = slim(net, bits, space)
    with torch.no_grad():
        with masked(net, bits, space) as m:
            masked_out = m(x)
        slim_out, full_out = small(x), net(x)
    assert (masked_out - slim_out).abs().max() < 1e-5
    assert (masked_out - full_out).abs().max() > 1e-3
    assert space.size(bits) == count_module_parameters(small) < count_module_parameters(net)
    for convention in ("output", "real"):
        assert space.size(bits, "macs", 32, convention) == \
            count_module_macs(small, 32, convention)


def test_depthwise_convs_share_their_input_group_and_slim_as_depthwise():
    torch.manual_seed(0)
    net = _randomised(SeparableNet(4, 2))
    space = space_of(net, torch.rand(1, 3, 32, 32))
    by_name = {c.name: c for c in space.convs}
    dw = by_name["blocks.0.depthwise.0"]
    assert dw.depthwise
    assert dw.out_group == by_name["blocks.0.expand.0"].out_group
    assert set(dw.in_groups) == {dw.out_group}
    assert by_name["separable.0"].out_group == by_name["head.0"].out_group  # stride-2 dw
    bits = space.full()
    group = space.group("blocks.0.expand.0")
    bits[group.offset:group.stop] = [1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0, 0, 1, 1]
    small = slim(net, bits, space)
    conv = small.blocks[0].depthwise[0]
    assert conv.groups == conv.in_channels == conv.out_channels == 9
    kept = [j for j, b in enumerate(bits[group.offset:group.stop]) if b]
    assert torch.equal(conv.weight, net.blocks[0].depthwise[0].weight[kept])
    assert conv.weight.shape == (9, 1, 3, 3)
    assert small.blocks[0].expand[0].out_channels == 9
    assert small.blocks[0].project[0].in_channels == 9
    assert torch.equal(small.blocks[0].depthwise[1].running_mean,
                       net.blocks[0].depthwise[1].running_mean[kept])


def test_groupnorm_bits_are_whole_norm_groups():
    torch.manual_seed(0)
    net = _randomised(GroupNormNet(16, 2))
    space = space_of(net, torch.rand(1, 3, 32, 32))
    head = space.group("head.0")
    assert (head.size, head.block, head.channels) == (4, 4, 16)  # GroupNorm(4, 16)
    assert space.group("blocks.0.0").block == 2  # GroupNorm(16, 32)
    bits = space.full()
    bits[head.offset:head.stop] = [0, 1, 0, 1]
    small = slim(net, bits, space)
    norm = small.head[1]
    assert (norm.num_groups, norm.num_channels) == (2, 8)
    assert torch.equal(norm.weight, net.head[1].weight[[4, 5, 6, 7, 12, 13, 14, 15]])
    assert small.head[0].out_channels == 8
    assert small.head[3].in_channels == 8
    again = MaskSpace.from_dict(json.loads(json.dumps(space.to_dict())))
    assert again == space
    assert again.group("head.0").block == 4
    assert again.size(bits) == count_module_parameters(small)


def test_groupnorm_of_different_channels_per_group_keeps_the_group_whole():
    torch.manual_seed(0)
    net = _randomised(MixedGroupNormNet())
    x = torch.rand(2, 3, 16, 16)
    space = space_of(net, x[:1])
    assert space.fixed == ("stem",)
    assert [(g.name, g.size, g.block) for g in space.groups] == [("inner", 8, 2)]
    bits = [1, 0, 0, 1, 1, 0, 1, 0]
    small = slim(net, bits, space)
    with torch.no_grad(), masked(net, bits, space) as m:
        assert (m(x) - small(x)).abs().max() < 1e-5
    assert small.inner_norm.num_groups == 4
    assert small.stem.out_channels == 16


def test_slim_generator_saved_and_reloaded_gives_identical_outputs(net_space, tmp_path):
    key, net, x, space = net_space
    bits = _bits(space, 7)
    small = slim(net, bits, space)
    cls, kwargs = (SeparableNet, {"ngf": 4, "n_blocks": 2}) if key == "separable" else \
        (GroupNormNet, {"ngf": 16, "n_blocks": 2})
    save_generator(small, tmp_path / "slim.pth", architecture=architecture_of(cls, kwargs),
                   space=space, bits=bits)
    loaded = load_generator(tmp_path / "slim.pth", architecture=architecture_of(cls))
    with torch.no_grad():
        assert torch.equal(loaded(x), small(x))
    assert count_module_parameters(loaded) == space.size(bits)


@pytest.mark.parametrize(("groups", "multiplier"), [(2, 1), (4, 1), (8, 2)])
def test_other_grouped_convs_get_a_one_line_error(groups, multiplier):
    with pytest.raises(TracingError) as info:
        space_of(GroupedConvNet(groups, multiplier), torch.rand(1, 3, 16, 16))
    message = str(info.value)
    assert "'grouped'" in message
    assert f"groups={groups}" in message
    assert "\n" not in message


def test_depthwise_conv_reading_the_image_is_kept_whole():
    class ImageDepthwise(nn.Module):
        def __init__(self):
            super().__init__()
            self.dw = nn.Conv2d(3, 3, 3, padding=1, groups=3)
            self.pw = nn.Conv2d(3, 8, 1)
            self.out = nn.Conv2d(8, 3, 3, padding=1)

        def forward(self, x):
            return self.out(torch.relu(self.pw(torch.relu(self.dw(x)))))

    torch.manual_seed(0)
    net = ImageDepthwise().eval()
    space = space_of(net, torch.rand(1, 3, 16, 16))
    assert [g.name for g in space.groups] == ["pw"]
    assert space.fixed == ("dw",)
    assert space.size(space.full()) == count_module_parameters(net)

import json
import pickle
import random

import pytest
from resnet_oracle import group_name, resnet_space, resnet_terms

from deap_gan_prune.core.maskspace import MaskSpace
from deap_gan_prune.core.widths import GeneratorWidths

W2 = GeneratorWidths(4, 6, 8, (5, 3), 6, 4)


def test_one_constructor_from_terms():
    space = MaskSpace(resnet_terms(GeneratorWidths.default()))
    assert space.n_bits == 64 + 128 + 256 + 9 * 256 + 128 + 64 == 2944
    assert [g.name for g in space.groups][:4] == ["model.1", "model.4", "model.7",
                                                  "model.10.conv_block.1"]
    with pytest.raises(ValueError, match="SpaceTerms"):
        MaskSpace(GeneratorWidths.default())  # type: ignore[arg-type]


def test_tied_merges_the_stream_and_every_inner_width():
    w = GeneratorWidths.default()
    tied = resnet_space(w).tied()
    assert tied.n_bits == 640
    assert tied.group("model.7").members == ("model.7", *(group_name(w, f"inner{b}")
                                                          for b in range(9)))
    assert tied == resnet_space(w, "tied")  # the hand-written tied layout
    assert resnet_space(w).with_layout("tied") == tied
    assert resnet_space(w).residual_blocks() == [[g.members for g in tied.groups][2]]
    with pytest.raises(ValueError, match="unknown layout"):
        resnet_space(w).with_layout("traced")  # type: ignore[arg-type]


def test_split_join_round_trip_and_member_masks():
    space = resnet_space(W2)
    rnd = random.Random(3)
    bits = [rnd.randint(0, 1) for _ in range(space.n_bits)]
    parts = space.split(bits)
    assert [len(parts[g.name]) for g in space.groups] == [4, 6, 8, 5, 3, 6, 4]
    assert space.join(parts) == bits
    assert space.join({"model.4": [0] * 6})[4:10] == [0] * 6
    assert space.member_masks(bits) == parts
    assert space.from_member_masks(parts) == bits
    assert space.boundaries == [0, 4, 10, 18, 23, 26, 32, 36]


def test_tied_layout_shares_one_mask_for_stream_and_inner():
    w = GeneratorWidths.default(8, 3)
    space = resnet_space(w).tied()
    bits = space.full()
    bits[space.group("model.7").offset] = 0
    members = space.member_masks(bits)
    assert all(members[group_name(w, s)][0] == 0 for s in ("stream", "inner0", "inner1",
                                                         "inner2"))
    w = space.widths_of(bits)
    assert w.stream == 31
    assert w.inner == (31, 31, 31)
    independent = resnet_space(GeneratorWidths.default(8, 3))
    assert independent.widths_of(independent.from_member_masks(members)) == w
    with pytest.raises(ValueError, match="merged"):
        space.from_member_masks({"model.7": [0] * 32, "model.10.conv_block.1": [1] * 32})


def test_tied_layout_needs_equal_widths():
    with pytest.raises(ValueError, match="tied layout"):
        resnet_space(GeneratorWidths(4, 8, 16, (8,), 8, 4)).tied()


def test_merged_groups_need_equal_widths_and_known_names():
    space = resnet_space(W2)
    with pytest.raises(ValueError, match="equal widths"):
        space.merged(["model.1", "model.4"])
    with pytest.raises(ValueError, match="unknown groups"):
        space.merged(["model.1", "nothing"])
    merged = space.merged(["model.15", "model.1"])  # equal widths (4): at the first's place
    assert [g.name for g in merged.groups] == ["model.1", "model.4", "model.7",
                                               "model.10.conv_block.1",
                                               "model.11.conv_block.1", "model.12"]
    assert merged.group("model.1").members == ("model.1", "model.15")
    assert merged.size(merged.full()) == space.size(space.full())


def test_sizes_follow_the_closed_form():
    space = resnet_space(GeneratorWidths.default(8, 2))
    assert space.size_ratio(space.full()) == 1.0
    bits = space.full()
    bits[0] = 0
    w = space.widths_of(bits)
    assert w.first == 7
    assert space.size(bits) == space.size(space.full()) - (49 * 3 + 1) - 9 * 16
    assert space.size_ratio(bits) < 1.0
    assert space.size_ratio(bits, "macs", 64) < 1.0


def test_widths_only_for_the_resnet():
    space = resnet_space(W2)
    assert space.widths == W2
    dropout = resnet_space(W2, dropout=True)
    assert dropout.widths == W2
    renamed = MaskSpace(resnet_terms(W2)).merged(["model.1", "model.15"])
    assert renamed.widths == W2  # still the ResNet's convs
    other = MaskSpace(resnet_terms(GeneratorWidths(4, 4, 4, (), 4, 4)))
    assert other.widths is not None  # no blocks is still the upstream shape
    from dataclasses import replace
    t = resnet_terms(W2)
    alien = MaskSpace(replace(t, convs=tuple(replace(c, name=f"x{i}")
                                             for i, c in enumerate(t.convs))))
    assert alien.widths is None
    with pytest.raises(TypeError, match="ResnetGenerator"):
        alien.widths_of(alien.full())


def test_validity_and_min_keep():
    stream = group_name(GeneratorWidths.default(4, 1), "stream")
    space = resnet_space(GeneratorWidths.default(4, 1), min_keep={stream: 3})
    assert space.group(stream).min_keep == 3
    assert space.group("model.1").min_keep == 1
    bits = space.full()
    g = space.group(stream)
    bits[g.offset:g.stop] = [1, 1, 0] + [0] * (g.size - 3)
    assert not space.is_valid(bits)
    bits[g.offset + 2] = 1
    assert space.is_valid(bits)
    with pytest.raises(ValueError, match="outside"):
        resnet_space(GeneratorWidths.default(4, 1), min_keep=5)
    with pytest.raises(ValueError, match="bits"):
        space.split([1, 0])
    assert space.with_min_keep(2).group("model.1").min_keep == 2


def test_pickle_and_dict_round_trip():
    space = resnet_space(GeneratorWidths.default(4, 2), min_keep=2).tied()
    assert pickle.loads(pickle.dumps(space)) == space
    assert MaskSpace.from_dict(json.loads(json.dumps(space.to_dict()))) == space
    assert space.group("model.7").min_keep == 2
    assert "layout" not in space.to_dict()


@pytest.mark.parametrize("layout", ["independent", "tied"])
@pytest.mark.parametrize("dropout", [False, True])
def test_a_0_1_0_masks_file_still_loads(layout, dropout):
    """masks.json files of 0.1.0 describe the ResNet by its widths and layout, their groups
    named after the widths: they read as the traced space, min_keep in group order."""
    w = GeneratorWidths(4, 6, 8, (8, 8), 6, 4)
    names = ["first", "down1", "stream", *([] if layout == "tied" else ["inner0", "inner1"]),
             "up1", "up2"]
    saved = {"widths": w.to_dict(), "layout": layout, "min_keep": dict.fromkeys(names, 1),
             "n_bits": 0, **({"dropout": True} if dropout else {})}
    saved["min_keep"]["stream"] = 2
    space = MaskSpace.from_dict(saved)
    expected = resnet_space(w, layout, dropout=dropout, size=4,
                            min_keep={group_name(w, "stream"): 2})
    assert space == expected


@pytest.mark.parametrize("layout", ["independent", "tied"])
def test_the_closed_form_counts_what_the_widths_give(layout):
    """The closed form of the terms, on the ResNet, for random widths and masks: parameters
    as the layer shapes of the kept widths give them, MACs scaled from the traced size."""
    rng = random.Random(0 if layout == "independent" else 1)
    for _ in range(40):
        n = rng.randint(1, 9)
        stream = rng.randint(1, 64)
        inner = (stream,) * n if layout == "tied" else tuple(rng.randint(1, 64)
                                                              for _ in range(n))
        w = GeneratorWidths(rng.randint(1, 32), rng.randint(1, 64), stream, inner,
                            rng.randint(1, 64), rng.randint(1, 32), rng.choice([1, 3]),
                            rng.choice([1, 3]))
        space = resnet_space(w, layout)
        bits = [int(rng.random() < 0.6) for _ in range(space.n_bits)]
        for g in space.groups:
            bits[g.offset] = 1
        k = space.widths_of(bits)
        params = (49 * k.input_nc + 1) * k.first + (9 * k.first + 1) * k.down1 + \
            (9 * k.down1 + 1) * k.stream + \
            sum((9 * k.stream + 1) * m + (9 * m + 1) * k.stream for m in k.inner) + \
            (9 * k.stream + 1) * k.up1 + (9 * k.up1 + 1) * k.up2 + \
            (49 * k.up2 + 1) * k.output_nc
        assert space.size(bits) == params
        for size in (8, 64, (128, 96)):
            h, wd = (size, size) if isinstance(size, int) else size
            full, half, quarter = h * wd, h * wd // 4, h * wd // 16
            body = 49 * k.input_nc * k.first * full + 9 * k.first * k.down1 * half + \
                9 * k.down1 * k.stream * quarter + \
                sum(18 * k.stream * m * quarter for m in k.inner) + \
                49 * k.up2 * k.output_nc * full
            ups = {"output": 9 * k.stream * k.up1 * half + 9 * k.up1 * k.up2 * full,
                   "real": 9 * k.stream * k.up1 * quarter + 9 * k.up1 * k.up2 * half}
            for convention, up in ups.items():
                assert space.size(bits, "macs", size, convention) == body + up

import pickle
import random

import pytest

from deap_gan_prune.nets.maskspace import MaskSpace
from deap_gan_prune.nets.widths import GeneratorWidths, count_parameters


def test_default_sizes_of_both_layouts():
    w = GeneratorWidths.default()
    space = MaskSpace(w)
    assert space.n_bits == 64 + 128 + 256 + 9 * 256 + 128 + 64 == 2944
    assert [g.name for g in space.groups][:4] == ["first", "down1", "stream", "inner0"]
    tied = MaskSpace(w, layout="tied")
    assert tied.n_bits == 640
    assert tied.group("stream").slots == ("stream", *(f"inner{b}" for b in range(9)))


def test_split_join_round_trip_and_slot_masks():
    space = MaskSpace(GeneratorWidths(4, 6, 8, (5, 3), 6, 4))
    rnd = random.Random(3)
    bits = [rnd.randint(0, 1) for _ in range(space.n_bits)]
    parts = space.split(bits)
    assert [len(parts[g.name]) for g in space.groups] == [4, 6, 8, 5, 3, 6, 4]
    assert space.join(parts) == bits
    assert space.join({"down1": [0] * 6})[4:10] == [0] * 6
    slots = space.slot_masks(bits)
    assert slots["inner1"] == bits[23:26]
    assert space.boundaries == [0, 4, 10, 18, 23, 26, 32, 36]


def test_tied_layout_shares_one_mask_for_stream_and_inner():
    space = MaskSpace(GeneratorWidths.default(8, 3), layout="tied")
    bits = space.full()
    bits[space.group("stream").offset] = 0
    slots = space.slot_masks(bits)
    assert all(slots[s][0] == 0 for s in ("stream", "inner0", "inner1", "inner2"))
    w = space.widths_of(bits)
    assert w.stream == 31
    assert w.inner == (31, 31, 31)


def test_tied_layout_needs_equal_widths():
    with pytest.raises(ValueError, match="tied layout"):
        MaskSpace(GeneratorWidths(4, 8, 16, (8,), 8, 4), layout="tied")


def test_sizes_follow_the_closed_form():
    space = MaskSpace(GeneratorWidths.default(8, 2))
    assert space.size_ratio(space.full()) == 1.0
    bits = space.full()
    bits[0] = 0
    w = space.widths_of(bits)
    assert w.first == 7
    assert space.size(bits) == count_parameters(w)
    assert space.size_ratio(bits) < 1.0
    assert space.size_ratio(bits, "macs", 64) < 1.0


def test_validity_and_min_keep():
    space = MaskSpace(GeneratorWidths.default(4, 1), min_keep={"stream": 3})
    assert space.group("stream").min_keep == 3
    assert space.group("first").min_keep == 1
    bits = space.full()
    g = space.group("stream")
    bits[g.offset:g.stop] = [1, 1, 0] + [0] * (g.size - 3)
    assert not space.is_valid(bits)
    bits[g.offset + 2] = 1
    assert space.is_valid(bits)
    with pytest.raises(ValueError, match="outside"):
        MaskSpace(GeneratorWidths.default(4, 1), min_keep=5)
    with pytest.raises(ValueError, match="bits"):
        space.split([1, 0])


def test_pickle_and_dict_round_trip():
    space = MaskSpace(GeneratorWidths.default(4, 2), layout="tied", min_keep=2)
    assert pickle.loads(pickle.dumps(space)) == space
    assert MaskSpace.from_dict(space.to_dict()) == space


@pytest.mark.parametrize("layout", ["independent", "tied"])
def test_the_closed_form_of_the_terms_equals_the_widths_formulas(layout):
    """One closed form for every space: on the ResNet's terms it gives exactly the widths
    formulas (count_parameters, count_macs) for random widths, masks, sizes and conventions."""
    from deap_gan_prune.nets.widths import count_macs
    rng = random.Random(0 if layout == "independent" else 1)
    for _ in range(40):
        n = rng.randint(1, 9)
        stream = rng.randint(1, 64)
        inner = (stream,) * n if layout == "tied" else tuple(rng.randint(1, 64)
                                                              for _ in range(n))
        w = GeneratorWidths(rng.randint(1, 32), rng.randint(1, 64), stream, inner,
                            rng.randint(1, 64), rng.randint(1, 32), rng.choice([1, 3]),
                            rng.choice([1, 3]))
        space = MaskSpace(w, layout)
        bits = [int(rng.random() < 0.6) for _ in range(space.n_bits)]
        for g in space.groups:
            bits[g.offset] = 1
        kept = space.widths_of(bits)
        assert space.size(bits) == count_parameters(kept)
        assert space.size(space.full()) == count_parameters(w)
        for size in (4, 64, 256, (128, 96)):
            for convention in ("output", "real"):
                assert space.size(bits, "macs", size, convention) == \
                    count_macs(kept, size, convention)

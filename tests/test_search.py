"""search_masks: the assembled co-evolution, deterministic, within budget, serialisable."""
import json

import pytest
import torch

from deap_gan_prune.models import NLayerDiscriminator, ResnetGenerator
from deap_gan_prune.search import SearchConfig, search_masks


@pytest.fixture(scope="module")
def cyclegan():
    torch.manual_seed(0)
    nets = (ResnetGenerator(ngf=4, n_blocks=2), ResnetGenerator(ngf=4, n_blocks=2),
            NLayerDiscriminator(ndf=4), NLayerDiscriminator(ndf=4))
    images = (torch.rand(4, 3, 32, 32) * 2 - 1, torch.rand(4, 3, 32, 32) * 2 - 1)
    return nets, images


def _search(cyclegan, **kw):
    nets, images = cyclegan
    config = SearchConfig(population=6, generations=3, seed=kw.pop("seed", 0), **kw)
    return search_masks(*nets, *images, config, progress=False)


def test_budget_holds_for_parameters_and_macs(cyclegan):
    result = _search(cyclegan, budget=0.25, init="importance")
    for space, bits, terms in zip(result.spaces, result.masks, result.terms):
        assert space.size_ratio(bits, "parameters") <= 0.25
        assert space.size_ratio(bits, "macs") <= 0.25
        assert space.is_valid(bits) and terms["size"] <= 0.25
    for pop, space in zip(result.populations, result.spaces):
        assert all(space.size_ratio(ind, "macs") <= 0.25 for ind in pop)


def test_same_seed_same_masks_and_numbers(cyclegan):
    a, b = _search(cyclegan, seed=5), _search(cyclegan, seed=5)
    assert a.masks == b.masks and a.terms == b.terms
    assert a.to_dict()["logbook"] == b.to_dict()["logbook"]
    c = _search(cyclegan, seed=6)
    assert c.masks != a.masks


def test_result_is_json_and_tied_layout(cyclegan):
    result = _search(cyclegan, layout="tied", perceptual="features")
    data = json.loads(json.dumps(result.to_dict()))
    assert data["spaces"]["A"]["layout"] == "tied"
    assert len(data["masks"]["A"]) == result.spaces[0].n_bits == 4 + 8 + 16 + 8 + 4
    assert [r["gen"] for r in data["logbook"]] == [0, 1, 2, 3]
    assert set(data["logbook"][1]["A"]) >= {"max", "avg", "best_size", "best_l_dis",
                                              "best_l_cyc", "nevals"}


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="budget"):
        SearchConfig(budget=1.5)
    with pytest.raises(ValueError, match="population"):
        SearchConfig(population=1)


def test_logbook_records_round_trip(cyclegan):
    from deap_gan_prune.logbooks import logbook_from_records, logbook_records
    result = _search(cyclegan)
    records = logbook_records(result.logbook)
    rebuilt = logbook_from_records(json.loads(json.dumps(records)))
    assert rebuilt.chapters["A"].select("max") == [float(v) for v in
                                                   result.logbook.chapters["A"].select("max")]
    assert logbook_records(rebuilt) == records


def test_brief_training_of_candidates_lowers_their_losses(cyclegan):
    from deap_gan_prune.fitness import GeneratorFitness
    from deap_gan_prune.maskspace import MaskSpace
    from deap_gan_prune.training import BriefDistillation
    (g_a, _, d_a, _), (images, _) = cyclegan
    extra = torch.rand(8, 3, 32, 32) * 2 - 1
    space = MaskSpace(g_a.widths)
    bits = space.full()
    for g in space.groups:
        bits[g.offset:g.offset + g.size // 2] = [0] * (g.size // 2)
    plain = GeneratorFitness(g_a, d_a, images, space)
    def briefly_trained():
        return GeneratorFitness(g_a, d_a, images, space, prepare=BriefDistillation
                                .from_generator(g_a, extra, steps=30, lr=2e-3))
    trained = briefly_trained()
    assert trained.terms(bits)["l_gen"] < plain.terms(bits)["l_gen"]
    # deterministic: a second fitness (no shared memo) trains and scores to the same terms
    assert briefly_trained().terms(bits) == trained.terms(bits)
    nets, (a, b) = cyclegan
    config = SearchConfig(population=4, generations=1, n_images=2, train_steps=2,
                          train_images=2)
    result = search_masks(*nets, a, b, config, progress=False)
    assert all(space.is_valid(m) for space, m in zip(result.spaces, result.masks))
    with pytest.raises(ValueError, match="train_steps needs training images"):
        search_masks(*nets, a[:2], b[:2], config, progress=False)

"""search: the assembled co-evolution, deterministic, within budget, serialisable."""
import json

import pytest
import torch

from deap_gan_prune import RunOptions, SearchConfig, Task, search
from deap_gan_prune.nets.models import NLayerDiscriminator, ResnetGenerator


@pytest.fixture(scope="module")
def cyclegan():
    torch.manual_seed(0)
    nets = (ResnetGenerator(ngf=4, n_blocks=2), ResnetGenerator(ngf=4, n_blocks=2),
            NLayerDiscriminator(ndf=4), NLayerDiscriminator(ndf=4))
    images = (torch.rand(8, 3, 32, 32) * 2 - 1, torch.rand(8, 3, 32, 32) * 2 - 1)
    return nets, images


def _task(nets, images):
    g_a, g_b, d_a, d_b = nets
    return Task.pair(g_a, g_b, *images, discriminators={"A": d_a, "B": d_b})


def _search(cyclegan, callback=None, **kw):
    nets, images = cyclegan
    settings = {"population": 6, "generations": 3, "n_images": 4, "adapt_images": 4,
                "adapt_steps": 2}
    config = SearchConfig(**{**settings, "seed": kw.pop("seed", 0), **kw})
    return search(_task(nets, images), config, RunOptions(progress=False, callback=callback))


def test_budget_holds_for_parameters_and_macs(cyclegan):
    result = _search(cyclegan, budget=0.25, init="importance")
    for name, space in result.spaces.items():
        bits, terms = result.masks[name], result.terms[name]
        assert space.size_ratio(bits, "parameters") <= 0.25
        assert space.size_ratio(bits, "macs") <= 0.25
        assert space.is_valid(bits)
        assert terms["size_ratio"] <= 0.25
    for name, pop in result.populations.items():
        space = result.spaces[name]
        assert all(space.size_ratio(ind, "macs") <= 0.25 for ind in pop)


def test_same_seed_same_masks_and_numbers(cyclegan):
    a, b = _search(cyclegan, seed=5), _search(cyclegan, seed=5)
    assert a.masks == b.masks
    assert a.terms == b.terms
    assert a.to_dict()["logbook"] == b.to_dict()["logbook"]
    c = _search(cyclegan, seed=6)
    assert c.masks != a.masks


def test_result_is_json_and_tied_layout(cyclegan):
    result = _search(cyclegan, layout="tied", perceptual="features", fitness="paper")
    data = json.loads(json.dumps(result.to_dict()))
    # tied: the stream and every block's inner width are one group, named after the stream
    assert data["spaces"]["A"]["members"] == {
        "model.7": ["model.7", "model.10.conv_block.1", "model.11.conv_block.1"]}
    assert len(data["masks"]["A"]) == result.spaces["A"].n_bits == 4 + 8 + 16 + 8 + 4
    assert [r["gen"] for r in data["logbook"]] == [0, 1, 2, 3]
    assert set(data["logbook"][1]["A"]) >= {"max", "avg", "best_size_ratio", "best_l_dis",
                                              "best_l_cyc", "nevals"}


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="budget"):
        SearchConfig(budget=1.5)
    with pytest.raises(ValueError, match="population"):
        SearchConfig(population=1)
    for bad in ({"fitness": "fid"}, {"select": "best"}, {"repair_order": "l2"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            SearchConfig(**bad)


def test_defaults_and_the_paper_preset():
    d = SearchConfig()
    assert (d.fitness, d.select, d.repair_order, d.seed_uniform) == \
        ("adapted", "tournament", "random", True)
    assert d.lambda_cycle == 0.0
    assert d.gamma == 1.0
    assert SearchConfig(budget=0.25).gamma == 0.0
    p = SearchConfig.paper(budget=0.25)
    assert (p.fitness, p.select, p.repair_order, p.seed_uniform, p.population,
            p.generations, p.lambda_cycle) == ("paper", "roulette", "l1", False, 32, 50, 10.0)


def test_default_search_scores_adapted_candidates(cyclegan):
    from deap_gan_prune.fitness.adapted import Adaptation, AdaptedFitness
    result = _search(cyclegan, budget=0.5)
    assert set(result.terms["A"]) == {"fitness", "loss", "score", "l_cyc", "size_ratio"}
    (g_a, _, _, _), (x_a, _) = cyclegan
    fit = AdaptedFitness(g_a, result.spaces["A"], x_a[:4],
                         adaptation=Adaptation(x_a[4:8], steps=2))
    assert fit.terms(result.masks["A"])["score"] == pytest.approx(result.terms["A"]["score"],
                                                                  rel=1e-6)


def test_starting_populations_hold_the_uniform_mask(cyclegan):
    from deap_gan_prune.core.baselines import uniform_mask
    seen = {}

    def first(state):
        seen.setdefault("pops", [list(map(list, p)) for p in state.populations])
    result = _search(cyclegan, budget=0.25, callback=first)
    for space, pop in zip(result.spaces.values(), seen["pops"]):
        masks = [uniform_mask(space, 0.25, m) for m in ("parameters", "macs")]
        assert pop[0] == [int(all(col)) for col in zip(*masks)]
    seen.clear()
    _search(cyclegan, budget=0.25, seed_uniform=False, callback=first)
    assert seen["pops"][0][0] != [int(all(col)) for col in zip(*masks)] or \
        seen["pops"][1][0] != pop[0]


def test_result_is_the_best_pair_ever_seen_scored_jointly(cyclegan):
    """With the paper's fitness a pair's score depends on the partner: every generation's best
    pair is scored jointly; the result is the best of them, the hall of fame has no
    duplicates and generation 0 is scored with its partner too."""
    from deap_gan_prune.fitness.base import Partner, Scoring
    from deap_gan_prune.fitness.paper import GeneratorFitness
    from deap_gan_prune.nets.groups import space_of
    (g_a, g_b, d_a, d_b), (x_a, x_b) = cyclegan
    space_a, space_b = space_of(g_a, x_a), space_of(g_b, x_b)
    scoring = Scoring(gamma=1.0, batch_size=16)
    fit_a = GeneratorFitness(g_a, space_a, x_a[:4], scoring, discriminator=d_a,
                             partner=Partner(g_b, space_b, 10.0))
    fit_b = GeneratorFitness(g_b, space_b, x_b[:4], scoring, discriminator=d_b,
                             partner=Partner(g_a, space_a, 10.0))
    bests = []

    def record(state):
        bests.append(tuple(list(b) for b in state.best))
    result = _search(cyclegan, fitness="paper", generations=4, callback=record, select="rank")

    def joint(a, b):
        return fit_a(a, partner=b)[0] + fit_b(b, partner=a)[0]
    scores = [joint(a, b) for a, b in bests]
    hof = result.halloffame
    assert len({(tuple(h["A"]), tuple(h["B"])) for h in hof}) == len(hof)
    assert [h["score"] for h in hof] == sorted((h["score"] for h in hof), reverse=True)
    assert joint(result.masks["A"], result.masks["B"]) == pytest.approx(max(scores), rel=1e-6)
    assert hof[0]["score"] == pytest.approx(max(scores), rel=1e-6)
    assert (result.terms["A"]["fitness"] + result.terms["B"]["fitness"]) == \
        pytest.approx(max(scores), rel=1e-6)


def test_impossible_budget_and_missing_adaptation_images_are_errors(cyclegan):
    with pytest.raises(ValueError, match="smallest reachable size is"):
        _search(cyclegan, budget=1e-6)
    nets, (a, b) = cyclegan
    with pytest.raises(ValueError, match="adaptation images"):
        search(_task(nets, (a[:4], b[:4])), SearchConfig(n_images=4, population=2,
                                                         generations=0),
               RunOptions(progress=False))


def test_logbook_records_round_trip(cyclegan):
    from deap_gan_prune.evolution.logbooks import logbook_from_records, logbook_records
    result = _search(cyclegan)
    records = logbook_records(result.logbook)
    rebuilt = logbook_from_records(json.loads(json.dumps(records)))
    assert rebuilt.chapters["A"].select("max") == [float(v) for v in
                                                   result.logbook.chapters["A"].select("max")]
    assert logbook_records(rebuilt) == records


def test_brief_training_of_candidates_lowers_their_losses(cyclegan):
    from deap_gan_prune.fitness.distillation import BriefDistillation
    from deap_gan_prune.fitness.paper import GeneratorFitness
    from deap_gan_prune.nets.groups import space_of
    (g_a, _, d_a, _), (images, _) = cyclegan
    extra = torch.rand(8, 3, 32, 32) * 2 - 1
    space = space_of(g_a, images)
    bits = space.full()
    for g in space.groups:
        bits[g.offset:g.offset + g.size // 2] = [0] * (g.size // 2)
    plain = GeneratorFitness(g_a, space, images, discriminator=d_a)
    def briefly_trained():
        return GeneratorFitness(g_a, space, images, discriminator=d_a, prepare=BriefDistillation
                                .from_generator(g_a, extra, steps=30, lr=2e-3))
    trained = briefly_trained()
    assert trained.terms(bits)["l_gen"] < plain.terms(bits)["l_gen"]
    # deterministic: a second fitness (no shared memo) trains and scores to the same terms
    assert briefly_trained().terms(bits) == trained.terms(bits)
    nets, (a, b) = cyclegan
    config = SearchConfig(population=4, generations=1, n_images=2, train_steps=2,
                          adapt_images=2, fitness="paper")
    result = search(_task(nets, (a, b)), config, RunOptions(progress=False))
    assert all(result.spaces[n].is_valid(m) for n, m in result.masks.items())
    with pytest.raises(ValueError, match="train_steps needs training images"):
        search(_task(nets, (a[:2], b[:2])), config, RunOptions(progress=False))


def test_a_pair_keeps_each_generators_best_finalist(cyclegan):
    """Finalists work for both generators of a pair: each generator's hall-of-fame masks and
    its uniform seed are adapted longer, and its best finalist is its result."""
    nets, images = cyclegan
    config = SearchConfig.widths(population=4, generations=1, n_images=4, adapt_images=4,
                                 adapt_steps=1, budget=0.5, finalists=2, finalist_steps=2)
    result = search(_task(nets, images), config, RunOptions(progress=False))
    for name in ("A", "B"):
        scored = [f for f in result.finalists if name in f]
        assert 1 <= len(scored) <= 3  # up to two of the hall of fame, the uniform seed if new
        best = max(scored, key=lambda f: f["score"])
        assert result.masks[name] == best[name]
        assert result.terms[name]["fitness"] == pytest.approx(best["score"])
        assert result.spaces[name].size_ratio(result.masks[name]) <= 0.5 + 1e-9

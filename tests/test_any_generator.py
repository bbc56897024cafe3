"""Channel groups of other architectures than the upstream ResNet: discovery, masked
evaluation, slimming, sizes, importance, baselines, repair, fitnesses, files and export."""
import json
import random

import pytest
import torch
from generic_nets import (
    AffineResnet,
    DeepResnet,
    GroupNormNet,
    SeparableNet,
    StyleNet,
    UnetGenerator,
    WithLinear,
)
from resnet_oracle import resnet_space

from deap_gan_prune.core.baselines import random_mask_like, uniform_mask
from deap_gan_prune.core.maskspace import MaskSpace
from deap_gan_prune.core.widths import GeneratorWidths
from deap_gan_prune.nets.baselines import l1_norm_mask
from deap_gan_prune.nets.checkpoints import (
    CheckpointError,
    architecture_of,
    load_generator,
    save_generator,
)
from deap_gan_prune.nets.counting import count_module_macs, count_module_parameters
from deap_gan_prune.nets.groups import TracingError, space_of
from deap_gan_prune.nets.importance import l1_importance
from deap_gan_prune.nets.models import ResnetGenerator
from deap_gan_prune.nets.slimming import masked, slim
from deap_gan_prune.operators import repairBudget

# (class, kwargs, image size, expected (group name, size) list: first two and count)
ARCHITECTURES = {
    "affine_resnet": (AffineResnet, {"ngf": 8, "n_blocks": 2}, 32,
                      [("head.1", 8), ("head.4", 16)], 5),
    "deep_resnet": (DeepResnet, {"ngf": 4, "n_blocks": 2}, 32,
                    [("down.1", 4), ("down.4", 8)], 9),
    "unet_128": (UnetGenerator, {"ngf": 4, "num_downs": 7}, 128,
                 [("model.model.0", 4), ("model.model.1.model.1", 8)], 13),
    "style": (StyleNet, {"ngf": 8}, 32, [("c1", 8), ("c2", 16)], 4),
    # depthwise 3x3 convs share their input's group; bits of GroupNorm groups are blocks
    "separable": (SeparableNet, {"ngf": 4, "n_blocks": 2}, 32,
                  [("head.0", 4), ("separable.3", 8)], 4),
    "groupnorm": (GroupNormNet, {"ngf": 16, "n_blocks": 2}, 32,
                  [("head.0", 4), ("head.3", 4)], 5),
}


def _network(key):
    cls, kwargs, size, _, _ = ARCHITECTURES[key]
    torch.manual_seed(0)
    net = cls(**kwargs).eval()
    with torch.no_grad():  # non-trivial norms: affine weights and running statistics
        for m in net.modules():
            if getattr(m, "affine", False):
                m.weight.normal_()
                m.bias.normal_()
            if getattr(m, "running_mean", None) is not None:
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
    return net, size


def _random_bits(space, seed):
    rng = random.Random(seed)
    bits = [int(rng.random() < 0.5) for _ in range(space.n_bits)]
    for g in space.groups:
        bits[g.offset + rng.randrange(g.size)] = 1
    return bits


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def case(request):
    net, size = _network(request.param)
    x = torch.rand(2, 3, size, size) * 2 - 1
    space = space_of(net, x[:1])
    return request.param, net, x, space


def test_groups_found(case):
    key, _net, _x, space = case
    first, n_groups = ARCHITECTURES[key][3], ARCHITECTURES[key][4]
    assert [(g.name, g.size) for g in space.groups][:2] == first
    assert len(space.groups) == n_groups
    last = [c for c in space.convs if c.out_group < 0]
    assert len(last) == 1
    assert last[0].out_channels == 3  # the output layer is never pruned


def test_full_sizes_equal_the_module(case):
    _, net, x, space = case
    size = x.shape[-1]
    full = space.full()
    assert space.size(full) == count_module_parameters(net)
    assert space.size(full, "macs", size, "output") == count_module_macs(net, size, "output")
    assert space.size(full, "macs", size, "real") == count_module_macs(net, size, "real")


@pytest.mark.parametrize("seed", [1, 2])
def test_masked_equals_slim_and_sizes_match(case, seed):
    _, net, x, space = case
    bits = _random_bits(space, seed)
    small = slim(net, bits, space)
    with torch.no_grad():
        with masked(net, bits, space) as m:
            masked_out = m(x)
        slim_out = small(x)
        full_out = net(x)
    assert (masked_out - slim_out).abs().max() < 1e-5
    assert (masked_out - full_out).abs().max() > 1e-3  # the mask did change the output
    assert space.size(bits) == count_module_parameters(small) < count_module_parameters(net)
    size = x.shape[-1]
    assert space.size(bits, "macs", size, "real") == count_module_macs(small, size, "real")


def test_save_reload_and_export(case, tmp_path):
    _, net, x, space = case
    bits = _random_bits(space, 3)
    small = slim(net, bits, space)
    cls, kwargs = ARCHITECTURES[case[0]][:2]
    json_path = save_generator(small, tmp_path / "slim.pth",
                               architecture=architecture_of(cls, kwargs), space=space, bits=bits)
    assert json_path.is_file()
    loaded = load_generator(tmp_path / "slim.pth", architecture=architecture_of(cls))
    with torch.no_grad():
        assert torch.equal(loaded(x), small(x))
    state = torch.load(tmp_path / "slim.pth", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    from deap_gan_prune.export import export_generator, verify_export
    export_generator(loaded, tmp_path / "slim.pt", "torchscript", x.shape[-1])
    assert verify_export(tmp_path / "slim.pt", loaded, x.shape[-1]) < 1e-4


def test_onnx_export_parity(case, tmp_path):
    pytest.importorskip("onnxruntime")
    import onnx

    from deap_gan_prune.export import export_generator, verify_export
    _key, net, x, space = case
    small = slim(net, _random_bits(space, 5), space)
    size = x.shape[-1]
    info = export_generator(small, tmp_path / "slim.onnx", image_size=size)
    assert info["format"] == "onnx"
    assert info["image_size"] == size
    graph = onnx.load(str(tmp_path / "slim.onnx")).graph
    dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]
    assert verify_export(tmp_path / "slim.onnx", small, size, batch_size=2) < 1e-4
    with torch.no_grad(), masked(net, _random_bits(space, 5), space) as zeroed:
        masked_out = zeroed(x)
    import onnxruntime
    session = onnxruntime.InferenceSession(str(tmp_path / "slim.onnx"),
                                           providers=["CPUExecutionProvider"])
    exported = session.run(None, {"input": x.numpy()})[0]
    assert (torch.from_numpy(exported) - masked_out).abs().max() < 1e-4  # the masked full net


def test_importance_baselines_and_repair(case):
    _, net, x, space = case
    scores = l1_importance(net, space)
    assert len(scores) == space.n_bits
    assert all(s > 0 for s in scores)
    for bits in (uniform_mask(space, 0.4), l1_norm_mask(net, space, 0.4)):
        assert space.is_valid(bits)
        assert 0.3 < space.size_ratio(bits) <= 0.4
    same = random_mask_like(space, uniform_mask(space, 0.4), seed=1)
    assert space.kept(same) == space.kept(uniform_mask(space, 0.4))
    random.seed(0)
    ind = space.full()
    repairBudget(ind, space, 0.5, ("parameters", "macs"), image_size=x.shape[-1])
    assert space.size_ratio(ind) <= 0.5
    assert space.size_ratio(ind, "macs", x.shape[-1]) <= 0.5


@pytest.mark.parametrize(("widths", "use_dropout"), [
    (GeneratorWidths.default(4, 3), False), (GeneratorWidths.default(4, 2), True),
    (GeneratorWidths(5, 6, 7, (3, 9, 1), 4, 2, 1, 3), False)])
def test_the_traced_resnet_is_the_hand_written_one(widths, use_dropout):
    """The upstream ResNet is traced like any network: the same groups in the same order
    (first, down1, stream, each block's inner width, up1, up2) and bit layout, the same convs
    and norms (module names, channel maps, kernels, positions) as the hand-written oracle, so
    the same sizes for any mask; the tied layout is the oracle's tied one."""
    torch.manual_seed(0)
    g = ResnetGenerator(widths=widths, use_dropout=use_dropout).eval()
    traced = space_of(g, torch.rand(2, widths.input_nc, 8, 8))
    oracle = resnet_space(widths, dropout=use_dropout, size=8)
    assert traced.terms == oracle.terms
    assert traced == oracle
    assert [(x.name, x.offset, x.size) for x in traced.groups] == \
        [(x.name, x.offset, x.size) for x in oracle.groups]
    assert traced.widths == g.widths
    at_32 = space_of(g, torch.rand(1, widths.input_nc, 32, 32))
    for seed in range(5):
        bits = _random_bits(traced, seed)
        assert traced.widths_of(bits) == oracle.widths_of(bits)
        for measure in ("parameters", "macs"):
            for size in (64, 256, (96, 128)):
                assert traced.size(bits, measure, size) == oracle.size(bits, measure, size) \
                    == at_32.size(bits, measure, size)
    if len(set(widths.inner) | {widths.stream}) == 1:
        tied = space_of(g, torch.rand(1, widths.input_nc, 8, 8), "tied")
        assert tied == resnet_space(widths, "tied", dropout=use_dropout, size=8)
    else:
        with pytest.raises(ValueError, match="tied layout"):
            space_of(g, torch.rand(1, widths.input_nc, 8, 8), "tied")
    x = torch.rand(1, widths.input_nc, 16, 16)
    bits = _random_bits(traced, 0)
    with torch.no_grad():
        assert torch.equal(slim(g, bits)(x), slim(g, bits, traced)(x))  # space_of(g) default
    assert slim(g, bits).widths == traced.widths_of(bits)


def test_space_of_needs_an_example_only_when_no_small_image_runs():
    class Fixed(torch.nn.Module):  # runs on 3-channel images of 40 pixels only
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
            self.out = torch.nn.Conv2d(4, 3, 3, padding=1)

        def forward(self, x):
            if x.shape[-1] != 40:
                raise ValueError("40 pixels only")
            return self.out(self.conv(x))

    with pytest.raises(ValueError, match="space_of: Fixed: runs on no image") as info:
        space_of(Fixed())
    assert "give an example input" in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="space_of"):
        slim(Fixed(), [1] * 4)
    assert space_of(Fixed(), torch.rand(1, 3, 40, 40)).n_bits == 4
    with pytest.raises(ValueError, match="residual blocks"):
        space_of(Fixed(), torch.rand(1, 3, 40, 40), "tied")
    with pytest.raises(ValueError, match="unknown layout"):
        space_of(Fixed(), torch.rand(1, 3, 40, 40), "traced")


def test_space_round_trips_json_and_pickle(case):
    import json
    import pickle
    space = case[3]
    again = MaskSpace.from_dict(json.loads(json.dumps(space.to_dict())))
    assert again == space
    assert pickle.loads(pickle.dumps(space)) == space
    assert again.size(again.full(), "macs", 64) == space.size(space.full(), "macs", 64)


def test_unsupported_layer_gets_one_line_error():
    with pytest.raises(TracingError) as info:
        space_of(WithLinear(), torch.rand(1, 3, 32, 32))
    message = str(info.value)
    assert "'mix'" in message
    assert "Linear" in message
    assert "\n" not in message


def test_fitnesses_on_a_traced_space():
    from deap_gan_prune.fitness.adapted import Adaptation, AdaptedFitness
    from deap_gan_prune.fitness.base import Scoring
    from deap_gan_prune.fitness.paper import GeneratorFitness
    net, size = _network("affine_resnet")
    images = torch.rand(6, 3, size, size) * 2 - 1
    space = space_of(net, images[:1])
    bits = _random_bits(space, 4)
    paper = GeneratorFitness(net, space, images[:2], perceptual="pixel")
    small = slim(net, bits, space)
    with torch.no_grad():
        expected = (small(images[:2]) - net(images[:2])).pow(2).mean().item()
    assert paper.terms(bits)["l_gen"] == pytest.approx(expected, rel=1e-4)
    almost = space.full()
    almost[1] = 0  # > 95 % kept: the masked path
    with torch.no_grad():
        expected = (slim(net, almost, space)(images[:2]) - net(images[:2])).pow(2).mean()
    assert paper.terms(almost)["l_gen"] == pytest.approx(expected.item(), rel=1e-4)
    adapted = AdaptedFitness(net, space, images[:2], Scoring(gamma=0.1),
                             adaptation=Adaptation(images[2:], steps=2))
    terms = adapted.terms(bits)
    assert terms["fitness"] > 0
    assert terms["size_ratio"] == pytest.approx(space.size_ratio(bits))


def test_foreign_file_names_the_differing_keys(tmp_path):
    net, _ = _network("affine_resnet")
    path = tmp_path / "latest_net_G.pth"
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, path)
    with pytest.raises(CheckpointError) as info:
        load_generator(path)
    message = str(info.value)
    assert "upstream ResnetGenerator" in message
    assert "head.1.weight" in message
    assert "model.1.weight" in message
    assert "\n" not in message
    loaded = load_generator(path, architecture=architecture_of(AffineResnet,
                                                               {"ngf": 8, "n_blocks": 2}))
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))


def test_cli_with_a_generator_of_another_class(tmp_path, capsys):
    import json

    from deap_gan_prune.cli import main
    net, _ = _network("affine_resnet")
    weights = tmp_path / "g.pth"
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, weights)
    own = ["--generator", "generic_nets:AffineResnet", "--generator-kwargs",
           '{"ngf": 8, "n_blocks": 2}']
    data = ["--image-size", "32", "--n-train", "16", "--n-test", "4"]
    assert main(["inspect", str(weights), "--size", "32", *own]) == 0
    assert "head.4" in capsys.readouterr().out
    masks = tmp_path / "masks.json"
    assert main(["search", *own, "--weights", str(weights), *data, "--population", "3",
                 "--generations", "1", "--adapt-steps", "2", "--n-images", "4",
                 "--adapt-images", "4", "--budget", "0.6", "--quiet", "--out",
                 str(masks), "--checkpoint", str(tmp_path / "state.json"),
                 "--finalists", "2", "--finalist-steps", "3"]) == 0
    assert (tmp_path / "masks_fitness.png").stat().st_size > 0  # the plot beside --out
    assert json.loads((tmp_path / "state.json").read_text())["generation"] == 1
    saved = json.loads(masks.read_text())
    # one generator searches widths by default: uniform start, moves, finalists
    config = saved["config"]
    assert (config["init"], config["mutate"], config["finalists"]) == ("uniform", "move", 2)
    assert saved["finalists"]
    assert saved["masks"]["A"] == saved["finalists"][0]["A"]
    assert saved["spaces"]["A"]["convs"]  # the traced form
    assert "B" not in saved["masks"]
    slim_dir = tmp_path / "slim"
    assert main(["slim", str(masks), *own, "--weights", str(weights), "--out",
                 str(slim_dir)]) == 0
    assert main(["finetune", str(slim_dir), *own, "--weights", str(weights), *data,
                 "--steps", "2", "--batch-size", "2", "--val-images", "4", "--quiet"]) == 0
    tuned = tmp_path / "slim_finetuned" / "slim_G_A.pth"  # the default --out, beside slim/
    small = load_generator(tuned, architecture=architecture_of(AffineResnet))
    space = MaskSpace.from_dict(saved["spaces"]["A"])
    assert count_module_parameters(small) <= 0.6 * space.size(space.full())
    assert main(["export", str(tuned), "--format", "torchscript", *own,
                 "--size", "32", "--out", str(tmp_path / "g.pt")]) == 0
    assert main(["inspect", str(tuned), "--size", "32"]) == 1  # its class is not named
    assert "imported only when given as the generator" in capsys.readouterr().err
    assert main(["inspect", str(tuned), "--size", "32", *own]) == 0
    assert "AffineResnet" in capsys.readouterr().out
    channels = tmp_path / "channels.json"
    assert main(["search", *own, "--weights", str(weights), *data, "--population", "3",
                 "--generations", "0", "--adapt-steps", "1", "--n-images", "4",
                 "--adapt-images", "4", "--budget", "0.6", "--quiet", "--out",
                 str(channels), "--variation", "channels", "--mate", "group_boundary"]) == 0
    config = json.loads(channels.read_text())["config"]
    assert (config["init"], config["mate"], config["finalists"]) == ("bernoulli",
                                                                     "group_boundary", 0)


def test_evaluate_a_generator_of_another_class(tmp_path, capsys):
    import json

    from deap_gan_prune.cli import main
    from deap_gan_prune.domains import synthetic_data
    from deap_gan_prune.metrics.fidelity import fidelity_scores
    net, size = _network("style")
    weights = tmp_path / "g.pth"
    torch.save(net.state_dict(), weights)
    space = space_of(net, torch.rand(1, 3, size, size))
    bits = _random_bits(space, 6)
    small = slim(net, bits, space)
    slim_dir = tmp_path / "slim"
    slim_dir.mkdir()
    arch = architecture_of("generic_nets:StyleNet", {"ngf": 8})
    save_generator(small, slim_dir / "slim_G_A.pth", architecture=arch, space=space, bits=bits)
    own = ["--generator", "generic_nets:StyleNet", "--generator-kwargs", '{"ngf": 8}',
           "--weights", str(weights)]
    data = ["--image-size", str(size), "--n-train", "4", "--n-test", "6"]
    out = tmp_path / "summary.json"
    assert main(["evaluate", str(slim_dir), *own, *data, "--repeats", "1", "--quiet",
                 "--out", str(out)]) == 0
    assert "A→B SSIM to original" in capsys.readouterr().out
    summary = json.loads(out.read_text())
    sizes = summary["generator"]["sizes"]
    assert sizes["original"]["parameters"] == count_module_parameters(net)
    assert sizes["pruned"]["parameters"] == count_module_parameters(small)
    assert sizes["pruned"][f"macs_real_{size}"] == count_module_macs(small, size, "real")
    assert summary["generator"]["kept"] == space.kept(bits)
    test_a = synthetic_data(4, 6, size).test_a
    with torch.no_grad():
        expected = fidelity_scores(small(test_a), net(test_a))
    fidelity = summary["quality"]["pruned"]["fidelity_a2b"]
    assert fidelity["ssim"] == pytest.approx(expected["ssim"], abs=1e-5)
    assert fidelity["ssim"] < 0.999  # the mask did change the outputs
    assert fidelity["psnr_db"] == pytest.approx(expected["psnr_db"], abs=1e-3)
    # the same file against a full network of other arguments: one-line error naming both
    assert main(["evaluate", str(slim_dir / "slim_G_A.pth"), "--generator",
                 "generic_nets:StyleNet", "--generator-kwargs", '{"ngf": 4}', "--weights",
                 str(weights), *data, "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert "slim_G_A.pth: a slim generic_nets:StyleNet" in err
    assert '{"ngf": 4}' in err
    assert "\n" not in err
    assert main(["evaluate", str(slim_dir), *own, "--checkpoints", str(tmp_path), *data]) == 1
    assert "--checkpoints" in capsys.readouterr().err
    (slim_dir / "slim_G_A.json").unlink()
    assert main(["evaluate", str(slim_dir), *own, *data, "--quiet"]) == 1
    assert "no JSON beside it" in capsys.readouterr().err


def test_single_search_resumes_to_the_uninterrupted_result(tmp_path):
    import json

    from deap_gan_prune import RunOptions, SearchConfig, Task, search
    from deap_gan_prune.evolution.resume import ResumeError
    net, size = _network("affine_resnet")
    images = torch.rand(8, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    config = SearchConfig(population=4, generations=3, adapt_steps=2, n_images=4,
                          adapt_images=4, budget=0.6, seed=1)

    def search_one(generator, options=None, config=config):
        return search(Task({"A": generator}, {"A": images}), config,
                      options or RunOptions(progress=False))
    full = search_one(net)
    state = tmp_path / "state.json"
    stopped = search_one(net, RunOptions(progress=False, checkpoint=state,
                                            callback=lambda s: s.gen == 1))
    assert len(stopped.logbook) == 2
    assert json.loads(state.read_text())["generation"] == 1
    random.seed(99)
    torch.manual_seed(99)
    ran = []
    resuming = RunOptions(progress=False, checkpoint=state, resume=True)
    resumed = search_one(net, resuming.replace(callback=lambda s: ran.append(s.gen)))
    assert ran == [2, 3]  # went on from the checkpoint
    assert resumed.masks == full.masks
    assert resumed.halloffame == full.halloffame
    assert resumed.to_dict()["logbook"] == full.to_dict()["logbook"]
    assert [(list(i), i.fitness.values) for i in resumed.populations["A"]] == \
        [(list(i), i.fitness.values) for i in full.populations["A"]]
    saved = json.loads(state.read_text())
    assert saved["generation"] == 3
    assert len(saved["population"]) == 4
    assert saved["halloffame"][0]["mask"] == full.masks["A"]
    other = SearchConfig(**{**config.to_dict(), "gamma": 0.5,
                            "budget_measures": tuple(config.budget_measures)})
    with pytest.raises(ResumeError, match="differing: gamma"):
        search_one(net, resuming, other)
    changed, _ = _network("affine_resnet")
    with torch.no_grad():
        changed.head[1].weight[0, 0, 0, 0] += 1.0
    with pytest.raises(ResumeError, match="differing: models"):
        search_one(changed, resuming)
    (tmp_path / "cut.json").write_text(state.read_text()[:100])
    with pytest.raises(ResumeError, match=r"cut\.json: not a readable checkpoint"):
        search_one(net, resuming.replace(checkpoint=tmp_path / "cut.json"))


@pytest.mark.slow
def test_single_search_in_worker_processes_equals_in_process(monkeypatch):
    import deap_gan_prune.evolution.skeleton as skeleton
    from deap_gan_prune import RunOptions, SearchConfig, Task, search
    from deap_gan_prune.evolution.parallel import ProcessPoolMap
    net, size = _network("style")
    images = torch.rand(8, 3, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1
    config = SearchConfig(population=4, generations=1, adapt_steps=2, n_images=4,
                          adapt_images=4, budget=0.6, seed=2)
    calls = []

    class CountingPool(ProcessPoolMap):
        def __call__(self, func, iterable):
            items = list(iterable)
            calls.append(len(items))
            return super().__call__(func, items)
    monkeypatch.setattr(skeleton, "ProcessPoolMap", CountingPool)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers' thread count
    try:
        task = Task({"A": net}, {"A": images})
        here = search(task, config, RunOptions(progress=False))
        there = search(task, config, RunOptions(progress=False, workers=2))
    finally:
        torch.set_num_threads(threads)
    assert sum(calls) == sum(r["nevals"] for r in there.to_dict()["logbook"]) > 0
    assert there.masks == here.masks
    assert there.halloffame == here.halloffame
    assert there.to_dict()["logbook"] == here.to_dict()["logbook"]
    # the candidates were scored differently
    assert len({h["score"] for h in here.halloffame}) > 1


def test_width_search_keeps_the_best_finalist_and_seeds_random_uniform_channels():
    from deap_gan_prune import RunOptions, SearchConfig, Task, search
    from deap_gan_prune.evolution.search import uniform_individual
    net, size = _network("affine_resnet")
    images = torch.rand(8, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    config = SearchConfig(population=4, generations=2, adapt_steps=2, n_images=4,
                          adapt_images=4, budget=0.3, budget_measures=("parameters",),
                          init="uniform", mutate="move", mate="uniform_group", cxpb=0.5,
                          mutpb=0.5, seed_channels="random", finalists=2, finalist_steps=3,
                          seed=2)
    task, quiet = Task({"A": net}, {"A": images}), RunOptions(progress=False)
    result = search(task, config, quiet)
    space, mask = result.spaces["A"], result.masks["A"]
    seed = uniform_individual(space, config, list)
    # the seed: the uniform counts with the random channels random_mask_like draws
    assert seed == random_mask_like(space, uniform_mask(space, 0.3), 2)
    assert seed != uniform_mask(space, 0.3)
    masks = [f["A"] for f in result.finalists]
    scores = [f["score"] for f in result.finalists]
    assert seed in masks
    assert len(masks) <= 3
    assert len(set(map(tuple, masks))) == len(masks)
    assert scores == sorted(scores, reverse=True)
    assert mask == masks[0]
    assert result.terms["A"]["fitness"] == pytest.approx(scores[0])
    assert space.size_ratio(mask) <= 0.3 + 1e-9
    again = search(task, config, quiet)
    assert again.masks == result.masks
    assert again.finalists == result.finalists
    with pytest.raises(ValueError, match="budget"):
        SearchConfig(init="uniform")
    with pytest.raises(ValueError, match="adapted"):
        search(task, SearchConfig(fitness="paper", finalists=1, budget=0.3), quiet)


def test_front_supernet_and_baselines_work_on_a_non_resnet_generator():
    """Any generator: the front search, the once-for-all training (and a search scored on
    it), and every baseline mask run on a traced network."""
    from deap_gan_prune import FrontConfig, RunOptions, Task, search
    from deap_gan_prune.fitness.supernet import SupernetFitness
    from deap_gan_prune.training.supernet import (
        SupernetConfig,
        mean_masked_loss,
        train_supernet,
    )
    net_a, size = _network("style")
    net_b, _ = _network("style")
    x = torch.rand(8, 3, size, size, generator=torch.Generator().manual_seed(3)) * 2 - 1
    space = space_of(net_a, x)
    assert not isinstance(net_a, ResnetGenerator)
    assert space.n_bits > 0
    for budget in (0.3, 0.6):
        uniform, l1 = uniform_mask(space, budget), l1_norm_mask(net_a, space, budget)
        randomised = random_mask_like(space, uniform, seed=1)
        assert space.kept(randomised) == space.kept(uniform)
        assert randomised != uniform
        for bits in (uniform, l1):
            assert space.size_ratio(bits) <= budget
            assert slim(net_a, bits, space)(x[:2]).shape == x[:2].shape
    front = search(Task.pair(net_a, net_b, x, x),
                   FrontConfig(population=4, generations=1, n_images=4, adapt_images=4,
                               adapt_steps=1), RunOptions(progress=False))
    sizes = [p["values"]["parameters"] for p in front.points]
    assert len(front.points) >= 2
    assert min(sizes) < max(sizes) <= 1.0
    a = front.masks()["A"]
    assert slim(net_a, a, front.spaces["A"])(x[:1]).shape == x[:1].shape
    supernet = train_supernet(net_a, x, space, SupernetConfig(steps=4, budgets=(0.3, 0.6)),
                              RunOptions(progress=False))
    small = uniform_mask(space, 0.3)
    assert mean_masked_loss(supernet, net_a, x[:4], space, [small]) < \
        mean_masked_loss(net_a, net_a, x[:4], space, [small])
    fitness = SupernetFitness(supernet, space, x[:4], original=net_a)
    on_supernet, on_original = fitness(small)[0], SupernetFitness(net_a, space, x[:4],
                                                                    original=net_a)(small)[0]
    assert on_supernet > on_original  # the once-for-all weights serve the small mask better


@pytest.mark.parametrize("key", ["affine_resnet", "deep_resnet", "style"])
def test_saving_another_generator_without_its_architecture_is_refused(key, tmp_path):
    """Without an architecture a file must read back as the upstream ResNet; any other
    network (even one with ``model.N`` keys) is refused before anything is written."""
    from deap_gan_prune.nets.checkpoints import save_generator
    net, _ = _network(key)
    with pytest.raises(ValueError, match="needs its architecture"):
        save_generator(net, tmp_path / "g.pth")
    assert not list(tmp_path.iterdir())
    torch.manual_seed(0)
    resnet = ResnetGenerator(ngf=4, n_blocks=2, use_dropout=True)
    info = json.loads(save_generator(resnet, tmp_path / "r.pth").read_text())
    assert info["kind"] == "traced"
    assert info["architecture"]["class"] == "deap_gan_prune.nets.models:ResnetGenerator"
    assert info["architecture"]["kwargs"]["use_dropout"] is True
    assert info["architecture"]["kwargs"]["widths"] == resnet.widths.to_dict()

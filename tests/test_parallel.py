"""Distributed evaluation: process pool and Ray give exactly the in-process search; a dead
worker is named and stops the search with the last checkpoint intact."""
import math
import pickle
import random
import sys

import _search_script as script
import pytest

from deap_gan_prune.evolution.coevolution import eaCoevolve
from deap_gan_prune.evolution.logbooks import logbook_records
from deap_gan_prune.evolution.parallel import ProcessPoolMap, WorkerError
from deap_gan_prune.evolution.raymap import RayMap
from deap_gan_prune.evolution.registration import create_types
from deap_gan_prune.evolution.resume import checkpointing, load_checkpoint, models_hash


@pytest.fixture(scope="module")
def fitnesses():
    nets, images = script.tiny_cyclegan()
    return script.paper_fitnesses(nets, images, weight=1.0)


def _search(fitnesses, map_function=None, ngen=3, callback=None):
    random.seed(7)
    boxes = script.toolboxes(fitnesses, map_function=map_function)
    pops = (boxes[0].population(n=6), boxes[1].population(n=6))
    states = []

    def record(state):
        states.append(state)
        return None if callback is None else callback(state)
    pops, logbook, best = eaCoevolve(pops, boxes, ngen, callback=record,
                                     stats=(script.statistics(), script.statistics()))
    hof = states[-1].halloffame
    return {"masks": [[list(i) for i in pop] for pop in pops],
            "fitness": [[i.fitness.values for i in pop] for pop in pops],
            "logbook": logbook_records(logbook), "best": [list(b) for b in best],
            "hof": [(list(a), list(b), g, s) for a, b, g, s in hof.items]}


@pytest.fixture(scope="module")
def in_process(fitnesses):
    return _search(fitnesses)


@pytest.fixture(scope="module")
def pool(fitnesses):
    with ProcessPoolMap({"A": fitnesses[0], "B": fitnesses[1]}, workers=2) as pool:
        yield pool
    assert pool.pids == []


def test_process_pool_gives_the_in_process_search(fitnesses, in_process, pool):
    assert _search(fitnesses, pool) == in_process


def test_pool_runs_other_callables_and_reraises_fitness_errors(fitnesses, pool):
    assert pool(math.sqrt, [1, 4, 9]) == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match=r"cannot send .*lambda"):
        pool(lambda x: x, [1])
    with pytest.raises(ValueError, match="has 72 bits, got 3"):
        pool(fitnesses[0], [[1, 1, 1], fitnesses[0].space.full()])
    full = fitnesses[0].space.full()
    assert pool(fitnesses[0], [full]) == [fitnesses[0](full)]  # still usable
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(pool)


@pytest.mark.slow
def test_dead_worker_is_named_and_checkpoint_stays(fitnesses, tmp_path):
    dying = (script.DyingFitness(fitnesses[0], die_at=8), fitnesses[1])
    path = tmp_path / "ck.json"
    digest = models_hash(fitnesses[0].generator)
    with ProcessPoolMap(dying, workers=2) as pool:
        pids = pool.pids
        with pytest.raises(WorkerError) as info:
            _search(dying, pool, ngen=6, callback=checkpointing(path, {}, digest))
        message = str(info.value)
        with pytest.raises(WorkerError, match="unusable: evaluation worker"):
            pool(fitnesses[0], [fitnesses[0].space.full()])
    number = int(message.split("evaluation worker ")[1].split()[0])
    assert f"evaluation worker {number} (pid {pids[number]}) died (exit code 3)" in message
    assert "while scoring item" in message
    assert "fitness 0 keeping" in message
    assert "\n" not in message
    state = load_checkpoint(path, create_types()[1], {}, digest)
    assert 0 <= state.gen < 6


def test_worker_that_cannot_load_is_reported():
    with pytest.raises(ValueError, match="cannot be sent to workers"):
        ProcessPoolMap([lambda _bits: (1.0,)], workers=1)
    with pytest.raises(ValueError, match="number of workers must be at least 1"):
        ProcessPoolMap([math.sqrt], workers=0)


@pytest.fixture(scope="module")
def ray_instance():
    import ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=80 * 1024 ** 2)
    yield ray
    ray.shutdown()


def test_ray_gives_the_in_process_search_and_names_a_dead_actor(ray_instance, fitnesses,
                                                               in_process):
    with RayMap(fitnesses, num_workers=2) as ray_map:
        assert _search(fitnesses, ray_map) == in_process
        pids = ray_map.pids
        ray_instance.kill(ray_map._actors[1])
        full = fitnesses[0].space.full()
        with pytest.raises(WorkerError, match=rf"evaluation worker 1 \(pid {pids[1]}\) died"):
            ray_map(fitnesses[0], [full] * 4)
    assert ray_instance.is_initialized()  # a Ray instance it did not start stays up


def test_ray_missing_gives_an_install_hint(monkeypatch, fitnesses):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"pip install 'deap-gan-prune\[ray\]'"):
        RayMap(fitnesses)


@pytest.mark.slow
def test_search_with_workers_equals_in_process():
    from deap_gan_prune import RunOptions, SearchConfig, Task, search
    (g_a, g_b, d_a, d_b), (x_a, x_b) = script.tiny_cyclegan()
    task = Task.pair(g_a, g_b, x_a, x_b, discriminators={"A": d_a, "B": d_b})
    config = SearchConfig(population=4, generations=2, seed=3, n_images=2)
    alone = search(task, config, RunOptions(progress=False))
    pooled = search(task, config, RunOptions(progress=False, workers=2))
    assert pooled.to_dict() == alone.to_dict()
    with pytest.raises(ValueError, match="not both"):
        search(task, config, RunOptions(progress=False, workers=2, map_function=map))

"""The settings dataclasses: declared once with their help and range, checked by one validator,
and turned into command-line flags and back."""
import argparse
from dataclasses import dataclass, fields
from typing import Literal

import pytest

from deap_gan_prune.compression.config import STAGE_KEYS, STAGES, CompressConfig
from deap_gan_prune.configs import (
    ConfigError,
    add_config_flags,
    flag_of,
    flag_values,
    parse_interval,
    setting,
    validate,
)
from deap_gan_prune.evolution.front_config import FrontConfig
from deap_gan_prune.evolution.search_config import FitnessSettings, SearchConfig
from deap_gan_prune.training.config import CycleGANConfig
from deap_gan_prune.training.distill_config import DistillConfig, DistillLoss

CONFIGS = (SearchConfig, FrontConfig, CompressConfig, CycleGANConfig, DistillConfig,
           DistillLoss)


@dataclass
class Toy:
    steps: int = setting(10, "steps", within="[0, inf)")
    rate: float = setting(0.5, "a rate", within="(0, 1]")
    mode: Literal["a", "b"] = setting("a", "a mode")
    name: str = setting("x", "a name", choices=("x", "y"))
    pair: tuple[float, float] = setting((0.1, 0.2), "a pair", within="[0, inf)")
    size: int | None = setting(None, "pixels", within="(0, inf)", multiple_of=4)
    on: bool = setting(False, "a switch")

    def __post_init__(self) -> None:
        validate(self)


def test_every_compress_setting_has_a_stage_or_is_runtime_only():
    for f in fields(CompressConfig):
        assert (f.metadata["stage"] in STAGES) != f.metadata["runtime_only"], f.name
    staged = {name for keys in STAGE_KEYS.values() for name in keys}
    runtime = {f.name for f in fields(CompressConfig) if f.metadata["runtime_only"]}
    assert staged | runtime == {f.name for f in fields(CompressConfig)}
    assert not staged & runtime
    assert STAGE_KEYS["search"][:2] == ("checkpoints", "epoch")


@pytest.mark.parametrize("cls", CONFIGS)
def test_every_setting_is_declared_with_help(cls):
    for f in fields(cls):
        assert f.metadata.get("help"), f"{cls.__name__}.{f.name}"


@pytest.mark.parametrize(("bad", "problem"), [
    ({"steps": 2.5}, "steps must be a whole number, got 2.5"),
    ({"steps": True}, "steps must be a whole number, got true"),
    ({"rate": "0.5"}, 'rate must be a number, got "0.5"'),
    ({"rate": float("nan")}, "rate must be a finite number"),
    ({"on": 1}, "on must be true or false, got 1"),
    ({"pair": (0.1,)}, "pair must be a list of 2 values"),
    ({"pair": (0.1, "x")}, "pair must be a number at item 2"),
    ({"steps": -1}, "steps must be >= 0, got -1"),
    ({"rate": 0.0}, r"rate must be in \(0, 1\], got 0.0"),
    ({"pair": (0.1, -0.2)}, r"pair must be >= 0, got \[0.1, -0.2\]"),
    ({"size": 6}, "size must be a multiple of 4, got 6"),
    ({"mode": "c"}, 'mode must be a or b, got "c"'),
    ({"name": "z"}, 'name must be x or y, got "z"'),
])
def test_a_bad_value_is_refused_in_one_line_naming_class_and_field(bad, problem):
    with pytest.raises(ConfigError, match=f"^Toy: {problem}") as info:
        Toy(**bad)
    assert "\n" not in str(info.value)
    assert info.value.name == next(iter(bad))


@pytest.mark.parametrize(("cls", "bad", "problem"), [
    (SearchConfig, {"population": 1}, "SearchConfig: population must be >= 2"),
    (SearchConfig, {"adapt_score": "fid"}, "SearchConfig: adapt_score must be l1, ssim or"),
    (SearchConfig, {"generations": "8"}, "SearchConfig: generations must be a whole number"),
    (FrontConfig, {"population": 2}, "FrontConfig: population must be >= 4"),
    (FrontConfig, {"fitness": "paper"}, "FrontConfig: fitness must be adapted or supernet"),
    (CycleGANConfig, {"betas": (0.5, 1.0)}, r"CycleGANConfig: betas must be in \[0, 1\)"),
    (CycleGANConfig, {"steps": 0}, "CycleGANConfig: steps must be >= 1"),
    (DistillConfig, {"lr": 0}, "DistillConfig: lr must be > 0"),
    (DistillConfig, {"loss": 3}, "DistillConfig: loss must be a DistillLoss"),
    (DistillLoss, {"feature_map": "2x2"}, "DistillLoss: feature_map must be kept or 1x1"),
    (CompressConfig, {"population": 0}, "population = 0: must be >= 2"),
])
def test_every_config_is_checked_by_the_validator(cls, bad, problem):
    with pytest.raises(ValueError, match=problem) as info:
        cls(**bad)
    assert "\n" not in str(info.value)


def test_the_search_configs_share_their_fitness_settings():
    shared = {f.name for f in fields(FitnessSettings)}
    assert {"adapt_steps", "adapt_images", "n_images", "seed", "population"} <= shared
    for cls in (SearchConfig, FrontConfig):
        assert issubclass(cls, FitnessSettings)
    front = FrontConfig(adapt_steps=3, adapt_images=5, seed=2)
    search = front.search_config()
    assert (search.adapt_steps, search.adapt_images, search.seed) == (3, 5, 2)
    assert (search.lambda_cycle, search.gamma) == (0.0, 0.0)
    assert flag_of(next(f for f in fields(SearchConfig) if f.name == "adapt_images")) == \
        "--adapt-images"


def test_a_generated_flag_round_trips_to_the_config():
    parser = argparse.ArgumentParser()
    add_config_flags(parser, Toy)
    assert flag_values(parser.parse_args([]), Toy) == {f.name: getattr(Toy(), f.name)
                                                       for f in fields(Toy) if f.name != "size"}
    args = parser.parse_args(["--steps", "3", "--rate", "0.25", "--mode", "b", "--pair", "1",
                              "2", "--size", "8", "--name", "y", "--on"])
    assert Toy(**flag_values(args, Toy)) == Toy(3, 0.25, "b", "y", (1.0, 2.0), 8, True)
    with pytest.raises(SystemExit):
        parser.parse_args(["--mode", "c"])
    unset = argparse.ArgumentParser()
    add_config_flags(unset, Toy, ("steps", "on"), unset=True)
    assert flag_values(unset.parse_args([]), Toy, ("steps", "on")) == {}
    assert flag_values(unset.parse_args(["--no-on"]), Toy, ("steps", "on")) == {"on": False}


def test_the_commands_flags_round_trip_to_their_configs():
    from deap_gan_prune.cli import build_parser
    from deap_gan_prune.cli.compress_cmd import resolved_config
    from deap_gan_prune.cli.search_cmd import config_from, front_config_from
    parser = build_parser()
    args = parser.parse_args(["search", "--adapt-images", "7", "--population", "5",
                              "--adapt-score", "ssim", "--init", "importance"])
    config = config_from(args)
    assert (config.adapt_images, config.population, config.adapt_score, config.init) == \
        (7, 5, "ssim", "importance")
    assert config_from(parser.parse_args(["search"])) == SearchConfig(budget=0.25)
    front = front_config_from(parser.parse_args(
        ["search", "--front", "--objectives", "parameters,latency", "--size-range", "0.1",
         "0.4", "--adapt-images", "6"]))
    assert (front.objectives, front.size_range, front.adapt_images) == \
        (("parameters", "latency"), (0.1, 0.4), 6)
    compress = resolved_config(parser.parse_args(
        ["compress", "--adapt-images", "5", "--size-range", "0.1", "0.3", "--generator",
         "m:C", "--weights", "g.pth", "--generator-kwargs", '{"ngf": 8}', "--load-sizes", "64",
         "72", "--no-int8"]))
    assert compress == CompressConfig(adapt_images=5, size_range=(0.1, 0.3), generator="m:C",
                                      weights="g.pth", generator_kwargs={"ngf": 8},
                                      load_sizes=(64, 72))
    assert resolved_config(parser.parse_args(["compress"])) == CompressConfig()


@pytest.mark.parametrize("cls", CONFIGS)
def test_every_config_makes_flags_whose_defaults_are_its_own(cls):
    parser = argparse.ArgumentParser()
    add_config_flags(parser, cls)
    assert cls(**flag_values(parser.parse_args([]), cls)) == cls()


@pytest.mark.parametrize(("text", "bounds"), [
    ("[0, 1]", {"low": 0, "above": None, "high": 1, "below": None}),
    ("(0, inf)", {"low": None, "above": 0, "high": None, "below": None}),
    ("[2, 16)", {"low": 2, "above": None, "high": None, "below": 16}),
    ("(-inf, 0.5]", {"low": None, "above": None, "high": 0.5, "below": None})])
def test_an_interval_gives_the_bounds(text, bounds):
    assert parse_interval(text) == bounds


def test_a_bad_interval_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"within='0 to 1': write an interval"):
        parse_interval("0 to 1")


def test_compress_declares_the_search_settings_once():
    """The search settings of a compress run are FitnessSettings' declarations: the same
    defaults, help and ranges, so a range change there reaches both."""
    shared = {f.name: f for f in fields(FitnessSettings)}
    for f in fields(CompressConfig):
        if f.name in ("population", "generations", "adapt_steps", "n_images", "adapt_images"):
            assert f.default == shared[f.name].default, f.name
            assert f.metadata["help"] == shared[f.name].metadata["help"], f.name
            assert f.metadata["low"] == shared[f.name].metadata["low"], f.name
            assert f.metadata["stage"] == "search"
    with pytest.raises(ValueError, match="population = 1: must be >= 2"):
        CompressConfig(population=1)

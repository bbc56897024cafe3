"""CLI hygiene: every option has help and shows its default; --debug and
DEAP_GAN_PRUNE_DEBUG=1 show the traceback; any other error is one line with a hint."""
import argparse

import pytest

from deap_gan_prune import cli
from deap_gan_prune.cli import SUBCOMMANDS, build_parser, main

FLAGS = (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse._StoreConstAction,
         argparse._HelpAction, argparse._VersionAction)


def subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def test_every_subcommand_is_listed():
    assert set(subparsers()) == set(SUBCOMMANDS)


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_every_option_has_help_and_a_shown_default(command):
    parser = subparsers()[command]
    formatter = parser._get_formatter()
    missing_help, missing_default = [], []
    for action in parser._actions:
        name = "/".join(action.option_strings) or action.dest
        if not (action.help or "").strip():
            missing_help.append(name)
            continue
        if not action.option_strings or isinstance(action, FLAGS) or action.required:
            continue
        shown = formatter._expand_help(action) if action.help else ""
        if "default" not in formatter._get_help_string(action).lower() or "%(" in shown:
            missing_default.append(name)
    assert not missing_help, f"{command}: options without help: {missing_help}"
    assert not missing_default, f"{command}: options without a shown default: {missing_default}"


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_help_prints_with_defaults(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "usage" in out
    assert "--debug" in out
    assert "(default" in out


def test_progress_commands_take_quiet():
    for command in ("search", "supernet", "finetune", "evaluate", "translate"):
        assert "--quiet" in subparsers()[command]._option_string_actions, command


def _fail(monkeypatch, exc):
    def run(_args):
        raise exc
    monkeypatch.setattr(cli, "_run", run)


def test_an_unexpected_error_is_one_line_with_a_debug_hint(monkeypatch, capsys):
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    _fail(monkeypatch, RuntimeError("CUDA out of memory. Tried to allocate 2 GiB\nmore"))
    assert main(["inspect", "x.pth"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "deap-gan-prune inspect: error: RuntimeError: CUDA out of memory. Tried to allocate "
        "2 GiB (add --debug (or set DEAP_GAN_PRUNE_DEBUG=1) for the traceback)"]


def test_an_input_error_stays_one_line_without_the_hint(monkeypatch, capsys):
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    _fail(monkeypatch, ValueError("x.pth: no such file"))
    assert main(["inspect", "x.pth"]) == 1
    assert capsys.readouterr().err == "deap-gan-prune inspect: error: x.pth: no such file\n"


@pytest.mark.parametrize("how", ["before", "after", "env"])
def test_debug_prints_the_traceback(how, monkeypatch, capsys):
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    _fail(monkeypatch, RuntimeError("deep inside"))
    argv = {"before": ["--debug", "inspect", "x.pth"], "after": ["inspect", "x.pth", "--debug"],
            "env": ["inspect", "x.pth"]}[how]
    if how == "env":
        monkeypatch.setenv(cli.DEBUG_ENV, "1")
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert "in run" in err
    assert err.rstrip().endswith("deap-gan-prune inspect: error: deep inside")


def test_debug_with_a_real_failure_shows_where(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"junk")
    assert main(["inspect", str(bad)]) == 1
    assert len(capsys.readouterr().err.splitlines()) == 1
    assert main(["inspect", str(bad), "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert "checkpoints.py" in err


def _search_config(*argv):
    from deap_gan_prune.cli.search_cmd import config_from
    return config_from(build_parser().parse_args(["search", *argv]))


def test_search_defaults_to_a_4x_budget_and_the_soft_term_only_by_name():
    default = _search_config()
    assert default.budget == 0.25
    assert default.gamma == 0.0
    assert default.seed_uniform
    soft = _search_config("--budget", "none")
    assert soft.budget is None
    assert soft.gamma == 1.0
    assert _search_config("--budget", "0.125").budget == 0.125
    with pytest.raises(SystemExit):
        build_parser().parse_args(["search", "--budget", "small"])


def test_front_refuses_an_explicit_budget_only(capsys):
    assert main(["search", "--front", "--budget", "none", "--quiet"]) == 1
    assert "leave out --budget" in capsys.readouterr().err


@pytest.mark.parametrize(("extra", "variation"), [
    ([], "widths"), (["--fitness", "paper"], "channels"), (["--budget", "none"], "channels"),
    (["--variation", "channels"], "channels")])
def test_search_variation_default_for_one_generator(extra, variation):
    from deap_gan_prune.cli.search_cmd import config_from, variation_of
    args = build_parser().parse_args(["search", "--generator", "m:C", "--weights", "g.pth",
                                      *extra])
    assert variation_of(args) == variation
    config = config_from(args)
    assert (config.init == "uniform") == (variation == "widths")
    pair = build_parser().parse_args(["search", *extra])            # the upstream pair
    assert variation_of(pair) == ("widths" if "widths" in extra else "channels")

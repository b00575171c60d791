"""Per-optimizer problem restrictions and lr ranges in a study definition (no runs)."""

import argparse
import warnings

import pytest

from ravine.lab import cli
from ravine.lab.execution import batch_pair, expected_runs
from ravine.lab.problems import SURFACES
from ravine.lab.study import DEFAULT_STUDY, ConfigError, ConfigWarning, study_from_dict
from ravine.lab.tuning import search_space

PROBLEMS = ["ravine", "rosenbrock", {"name": "mlp_digits", "steps": 20}]


def _study(*optimizers, problems=PROBLEMS, **more):
    return study_from_dict({"problems": problems, "optimizers": list(optimizers), **more})


def _pairs(study):
    return [(p.name, o.label) for p, o in study.pairs]


def test_lab_filter_problems_and_skip_problems_choose_the_pairs():
    s = _study("sgd", {"name": "lbfgs", "problems": ["rosenbrock", "ravine"]},
               {"name": "sam", "skip_problems": ["mlp_digits"]},
               {"name": "adam", "problems": ["mlp_digits", "ravine"],
                "skip_problems": ["rosenbrock"]},  # both keys: redundant but consistent
               trials=3, seeds=2)
    assert _pairs(s) == [("ravine", "sgd"), ("ravine", "lbfgs"), ("ravine", "sam"),
                         ("ravine", "adam"),
                         ("rosenbrock", "sgd"), ("rosenbrock", "lbfgs"), ("rosenbrock", "sam"),
                         ("mlp_digits", "sgd"), ("mlp_digits", "adam")]
    lbfgs = s.optimizers[1]
    assert lbfgs.problems == ("ravine", "rosenbrock")  # in the study's order
    assert s.optimizers[0].problems is None
    assert expected_runs(s) == 9 * (3 + 2)


@pytest.mark.parametrize("opt,needle", [
    ({"name": "lbfgs", "problems": ["nope"]},
     "key 'optimizers[1].problems': 'nope' is not a problem; valid names (the study's "
     "problems): ravine, rosenbrock, mlp_digits"),
    ({"name": "lbfgs", "skip_problems": ["beale"]},  # built in, but not in this study
     "key 'optimizers[1].skip_problems': 'beale' is not a problem of this study; valid names"),
    ({"name": "lbfgs", "problems": "ravine"},
     "key 'optimizers[1].problems': expected a non-empty list of problem names, got 'ravine'"),
    ({"name": "lbfgs", "skip_problems": []}, "key 'optimizers[1].skip_problems': expected a"),
    ({"name": "lbfgs", "problems": ["ravine", 3]}, "key 'optimizers[1].problems': expected"),
    ({"name": "lbfgs", "problems": ["ravine"], "skip_problems": ["ravine"]},
     "key 'optimizers[1]': ['ravine'] in both 'problems' and 'skip_problems'"),
    ({"name": "lbfgs", "skip_problems": ["ravine", "rosenbrock", "mlp_digits"]},
     "key 'optimizers[1].skip_problems': leaves optimizer 'lbfgs' no problem"),
    ({"name": "lbfgs", "lr_range": [2.0, 1.0]}, "key 'optimizers[1].lr_range': expected [low"),
    ({"name": "adam", "fixed": {"lr": 0.1}}, "key 'optimizers[1].fixed.lr': lr is always tuned"),
    ({"name": "momentum", "fixed": {"momentum": 0.5}, "search": {"momentum": [0.5, 0.99]}},
     "key 'optimizers[1].fixed': ['momentum'] also in 'optimizers[1].search'"),
])
def test_lab_filter_bad_restrictions_name_the_key_the_name_and_the_valid_names(opt, needle):
    with pytest.raises(ConfigError) as info:
        _study("sgd", opt)
    assert needle in str(info.value)


def test_lab_filter_a_problem_without_any_optimizer_is_an_error():
    with pytest.raises(ConfigError, match=r"key 'problems\[2\]': no optimizer runs on "
                                          "'mlp_digits'"):
        _study({"name": "sgd", "skip_problems": ["mlp_digits"]},
               {"name": "lbfgs", "problems": ["ravine"]})


def test_lab_filter_restrictions_and_ranges_are_part_of_the_study_identity():
    base = {"name": "pin", "trials": 2, "seeds": 1,
            "problems": ["ravine", {"name": "rosenbrock", "lr_range": [1e-3, 0.5]}],
            "optimizers": ["sgd", {"name": "lbfgs", "label": "lb"}]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        names = [study_from_dict(base).name]
        for change in ({"problems": ["ravine"]}, {"skip_problems": ["ravine"]},
                       {"problems": ["rosenbrock"]}, {"lr_range": [0.5, 1.5]}):
            opt = {**base["optimizers"][1], **change}
            names.append(study_from_dict({**base, "optimizers": ["sgd", opt]}).name)
    # computed before these keys existed: a definition without them keeps its name (and runs)
    assert names[0] == "pin-a48f8d7f"
    assert len(set(names)) == len(names)


def test_lab_filter_batch_study_needs_its_optimizer_to_run_on_its_problem():
    batch = {"problem": "mlp_digits", "optimizer": "momentum", "sizes": [32, 64], "epochs": 1}
    runs = _study("sgd", "momentum", batch_study=batch, trials=2, seeds=1)
    assert batch_pair(runs) == (2, 1) and expected_runs(runs) == 6 * 3 + 2 * 2 * 1
    skips = _study("sgd", {"name": "momentum", "skip_problems": ["mlp_digits"]},
                   batch_study=batch, trials=2, seeds=1)
    assert batch_pair(skips) is None and expected_runs(skips) == 5 * 3


def _lr(study, problem, label):
    p = next(p for p in study.problems if p.name == problem)
    o = next(o for o in study.optimizers if o.label == label)
    space = search_space(p, o)["lr"]
    return space.low, space.high


def test_lab_filter_lr_range_rule():
    problems = ["ravine", {"name": "rosenbrock", "lr_range": [1e-3, 0.5]}]
    with pytest.warns(ConfigWarning) as caught:
        s = _study("sgd", "lbfgs", {"name": "lbfgs", "label": "lbfgs-wide",
                                    "lr_range": [0.1, 4.0]},
                   {"name": "adam", "label": "adam-narrow", "lr_range": [1e-3, 1e-2]},
                   problems=problems)
    # 1. the optimizer table's lr_range wins everywhere
    assert _lr(s, "ravine", "lbfgs-wide") == _lr(s, "rosenbrock", "lbfgs-wide") == (0.1, 4.0)
    assert _lr(s, "rosenbrock", "adam-narrow") == (1e-3, 1e-2)
    # 2. lbfgs keeps its own range, whatever the problem says ...
    assert _lr(s, "ravine", "lbfgs") == _lr(s, "rosenbrock", "lbfgs") == (0.5, 2.0)
    # 3. ... while a plain step size follows the problem's range (built in or set)
    assert _lr(s, "ravine", "sgd") == (1e-3, 1.0)
    assert _lr(s, "rosenbrock", "sgd") == (1e-3, 0.5)
    # the set range that lbfgs ignores is named, once, with the key that would change it
    assert [str(w.message) for w in caught] == [
        "key 'problems[1].lr_range' does not apply to optimizer 'lbfgs', which tunes lr over "
        "its own range [0.5, 2] on every problem; set 'optimizers[1].lr_range' to change that"]


def test_lab_filter_no_warning_where_lbfgs_does_not_meet_the_set_range():
    problems = ["ravine", {"name": "rosenbrock", "lr_range": [1e-3, 0.5]}]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        _study("sgd", {"name": "lbfgs", "problems": ["ravine"]}, problems=problems)
        _study("sgd", {"name": "lbfgs", "lr_range": [0.5, 1.0]}, problems=problems)
        _study("sgd", "lbfgs")  # the built-in ranges are not the user's


def test_lab_filter_cli_problems_narrow_the_restrictions(tmp_path, capsys):
    path = tmp_path / "study.toml"
    path.write_text('problems = ["ravine", "rosenbrock", "beale"]\n'
                    'optimizers = ["sgd", {name = "lbfgs", problems = ["ravine", "beale"]},\n'
                    '  {name = "sam", problems = ["rosenbrock"]},\n'
                    '  {name = "adam", skip_problems = ["rosenbrock"]}]\n')
    args = argparse.Namespace(config=str(path), problems="beale,ravine", optimizers=None,
                              seeds=None, trials=None)
    s = study_from_dict(cli._definition(args))
    assert _pairs(s) == [("beale", "sgd"), ("beale", "lbfgs"), ("beale", "adam"),
                         ("ravine", "sgd"), ("ravine", "lbfgs"), ("ravine", "adam")]
    assert "note: optimizer 'sam' runs only on ['rosenbrock'], none of which --problems " \
        "chose; left out" in capsys.readouterr().err
    # a misspelt name in a restriction is still reported, not narrowed away
    path.write_text(path.read_text().replace('["ravine", "beale"]', '["beale", "nope"]'))
    with pytest.raises(ConfigError, match="'nope' is not a problem"):
        study_from_dict(cli._definition(args))


def test_lab_filter_default_study_runs_lbfgs_and_sam_on_the_surfaces_only(capsys):
    s = study_from_dict(dict(DEFAULT_STUDY))
    on = {o: [p for p, lab in _pairs(s) if lab == o] for o in ("lbfgs", "sam", "adam")}
    assert on["lbfgs"] == on["sam"] == list(SURFACES)
    assert on["adam"] == [p.name for p in s.problems] and len(s.problems) > len(SURFACES)
    args = argparse.Namespace(config=None, problems="mlp_digits,rosenbrock", optimizers=None,
                              seeds=None, trials=None)
    narrowed = study_from_dict(cli._definition(args))
    assert [o.problems for o in narrowed.optimizers if o.name in ("lbfgs", "sam")] \
        == [("rosenbrock",)] * 2
    args.problems = "mlp_digits"
    only_mlp = study_from_dict(cli._definition(args))
    assert [o.label for o in only_mlp.optimizers] == [
        o.label for o in s.optimizers if o.name not in ("lbfgs", "sam")]
    assert capsys.readouterr().err.count("none of which --problems chose; left out") == 2
    restricted = [o for o in DEFAULT_STUDY["optimizers"]
                  if isinstance(o, dict) and o["name"] in ("lbfgs", "sam")]
    assert [o["problems"] for o in restricted] == [list(SURFACES)] * 2  # not narrowed in place

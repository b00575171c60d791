"""Study definitions: TOML configs, errors naming the key, the CLI's exit codes and --list."""

import pytest

from ravine.cli import main
from ravine.lab.study import ConfigError, load_config, study_from_dict


def test_lab_study_from_dict_builds_problems_optimizers_and_schedule():
    s = study_from_dict({
        "name": "mine", "seeds": 2, "trials": 4,
        "problems": ["saddle", {"name": "mlp_digits", "steps": 50, "lr_range": [1e-3, 0.5],
                                "options": {"batch_size": 32}}],
        "optimizers": ["sgd", {"name": "momentum", "label": "mom-cos",
                               "schedule": "cosine(peak={lr}, total={steps})",
                               "search": {"momentum": [0.5, 0.99]}}],
    })
    assert s.name.startswith("mine-") and (s.seeds, s.trials) == (2, 4)
    mlp = s.problems[1]
    assert (mlp.steps, mlp.lr_range, mlp.options["batch_size"]) == (50, (1e-3, 0.5), 32)
    assert [o.label for o in s.optimizers] == ["sgd", "mom-cos"]
    assert s.optimizers[1].search == (("momentum", 0.5, 0.99, False),)
    assert len(s.pairs) == 4
    same = study_from_dict(dict(s.definition))
    assert same.name == s.name  # the name identifies the definition: reruns resume it


@pytest.mark.parametrize("raw,needle", [
    ({"problems": ["nope"]}, "key 'problems[0].name': unknown problem 'nope'"),
    ({"optimizers": ["sgd", {"name": "adam", "schedule": "cosine(peak={lr})"}]},
     "key 'optimizers[1].schedule'"),
    ({"optimizers": [{"name": "adam", "colour": 1}]}, "key 'optimizers[0]': unknown field"),
    ({"trials": 0}, "key 'trials': expected an integer >= 1"),
    ({"seeds": "3"}, "key 'seeds'"),
    ({"problems": [{"name": "saddle", "lr_range": [1.0, 0.1]}]}, "key 'problems[0].lr_range'"),
    ({"problems": [{"name": "mlp_digits", "options": {"batch_size": -1}}]},
     "key 'problems[0].options'"),
    ({"optimizers": ["sgd", "sgd"]}, "appear(s) twice"),
    ({"extra": 1}, "unknown key(s) ['extra']"),
    ({"batch_study": {"sizes": [16, 0]}}, "key 'batch_study.sizes[1]'"),
])
def test_lab_bad_definitions_name_the_key(raw, needle):
    with pytest.raises(ConfigError) as info:
        study_from_dict(raw)
    assert needle in str(info.value)


def test_lab_bad_toml_is_a_config_error_with_the_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('trials = 3\nproblems = ["saddle"\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(str(path))


def test_lab_cli_bad_config_exits_2_without_traceback(tmp_path, capsys):
    path = tmp_path / "study.toml"
    path.write_text('trials = 2\noptimizers = ["sgd", "warp_drive"]\n')
    assert main(["compare", "--config", str(path), "--store", str(tmp_path / "s.db")]) == 2
    err = capsys.readouterr().err
    assert "key 'optimizers[1].name': unknown optimizer 'warp_drive'" in err
    assert "Traceback" not in err
    assert main(["compare", "--trials", "0"]) == 2
    assert "--trials" in capsys.readouterr().err
    assert main(["compare", "--jobs", "0"]) == 2


def test_lab_cli_list_shows_problems_and_optimizers(capsys):
    assert main(["compare", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("rosenbrock", "quadratic_deep", "noisy_quadratic", "softmax_digits",
                 "cnn_digits", "sgd", "adam"):
        assert name in out

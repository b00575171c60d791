"""Validation parity with torch.optim: ravine raises exactly when torch raises, same type.

Each numeric constructor argument of every class torch also has is probed at boundary values
(negative, -0, 0, between 0 and 1, 1, > 1, nan, +-inf), as a 1-element tensor for ``lr``, and
with non-numbers; the outcome (accepted, or the exception type) must equal torch 2.13's.
"""

from __future__ import annotations

import inspect
import math
import warnings

import pytest
import torch

from ravine import optim as ro

# the numeric constructor arguments of each class (betas probed one entry at a time)
ARGUMENTS = {
    "SGD": ("lr", "momentum", "dampening", "weight_decay"),
    "Adagrad": ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"),
    "RMSprop": ("lr", "alpha", "eps", "weight_decay", "momentum"),
    "Adam": ("lr", "betas[0]", "betas[1]", "eps", "weight_decay"),
    "AdamW": ("lr", "betas[0]", "betas[1]", "eps", "weight_decay"),
    "NAdam": ("lr", "betas[0]", "betas[1]", "eps", "weight_decay", "momentum_decay"),
    "RAdam": ("lr", "betas[0]", "betas[1]", "eps", "weight_decay"),
    "Adamax": ("lr", "betas[0]", "betas[1]", "eps", "weight_decay"),
    "LBFGS": ("lr",),
    "Adadelta": ("lr", "rho", "eps", "weight_decay"),
    "Rprop": ("lr", "etas[0]", "etas[1]", "step_sizes[0]", "step_sizes[1]"),
    "ASGD": ("lr", "lambd", "alpha", "t0", "weight_decay"),
}
PAIR_DEFAULTS = {"etas": (0.5, 1.2), "step_sizes": (1e-6, 50)}  # torch.optim.Rprop's
NUMBERS = (-1.0, -1e-3, -0.0, 0, 0.0, 1e-3, 0.5, 0.99, 1, 1.0, 1.5, 10.0, math.nan, math.inf,
           -math.inf)
NOT_NUMBERS = ("0.1", None)


def _kwargs(argument: str, value) -> dict:
    if argument == "betas[0]":
        return {"betas": (value, 0.999)}
    if argument == "betas[1]":
        return {"betas": (0.9, value)}
    name, _, index = argument.partition("[")
    if index:  # one entry of Rprop's pairs, the other at torch's default
        pair = list(PAIR_DEFAULTS[name])
        pair[int(index[0])] = value
        return {name: tuple(pair)}
    return {argument: value}


def _outcome(cls, kwargs: dict):
    """None when the constructor accepts ``kwargs``, else the exception (type and message)."""
    param = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cls([param], **kwargs)
        except (ValueError, TypeError, RuntimeError) as error:
            return error
    return None


# torch.optim.SGD never checks dampening, so it takes a string or None until a momentum step
# reads it; ravine asks for a number there (test_sgd_dampening_must_be_a_number)
CASES = [(name, arg, value) for name, args in ARGUMENTS.items() for arg in args
         for value in NUMBERS + NOT_NUMBERS
         if not (name, arg) == ("SGD", "dampening") or value not in NOT_NUMBERS]
# torch never checks these either (a non-number fails at the first step); ravine asks for a
# number at construction (tests/optim/test_optim_classic.py)
UNCHECKED = {("ASGD", "lambd"), ("ASGD", "alpha"), ("ASGD", "t0"), ("Rprop", "step_sizes[0]"),
             ("Rprop", "step_sizes[1]")}
CASES = [case for case in CASES if case[:2] not in UNCHECKED or case[2] not in NOT_NUMBERS]


def _check_message(cls, argument: str, error: Exception) -> None:
    """ravine's chain classes name the argument and the range (LBFGS keeps torch's words)."""
    if isinstance(error, ValueError) and issubclass(cls, ro.ChainOptimizer):
        assert argument.split("[")[0] in str(error), str(error)


@pytest.mark.parametrize("name,argument,value", CASES,
                         ids=[f"{n}-{a}-{v!r}" for n, a, v in CASES])
def test_raises_exactly_when_torch_raises(name, argument, value):
    kwargs = _kwargs(argument, value)
    theirs = _outcome(getattr(torch.optim, name), kwargs)
    ours = _outcome(getattr(ro, name), kwargs)
    assert type(ours) is type(theirs), (kwargs, theirs, ours)
    _check_message(getattr(ro, name), argument, ours)


TENSOR_LRS = {
    "0-dim": torch.tensor(0.01),
    "1-element": torch.tensor([0.01]),
    "float64": torch.tensor(0.01, dtype=torch.float64),
    "zero": torch.tensor(0.0),
    "negative": torch.tensor(-0.01),
    "nan": torch.tensor(math.nan),
    "inf": torch.tensor(math.inf),
    "2-element": torch.tensor([0.01, 0.02]),
    "empty": torch.tensor([]),
}
FLAGS = ({}, {"foreach": False}, {"foreach": True}, {"fused": True}, {"capturable": True},
         {"foreach": True, "capturable": True})


def _takes(cls, flags: dict) -> bool:
    return set(flags) <= set(inspect.signature(cls.__init__).parameters)


# the flags each torch class has (e.g. SGD has no capturable)
TENSOR_CASES = [(name, lr_id, flags) for name in ARGUMENTS for lr_id in TENSOR_LRS
                for flags in FLAGS if _takes(getattr(torch.optim, name), flags)]


@pytest.mark.parametrize("name,lr_id,flags", TENSOR_CASES,
                         ids=[f"{n}-{i}-{'-'.join(f) or 'default'}" for n, i, f in TENSOR_CASES])
def test_tensor_lr_accepted_exactly_where_torch_accepts_it(name, lr_id, flags):
    torch_cls = getattr(torch.optim, name)
    kwargs = {"lr": TENSOR_LRS[lr_id], **flags}
    theirs = _outcome(torch_cls, kwargs)
    ours = _outcome(getattr(ro, name), kwargs)
    assert type(ours) is type(theirs), (kwargs, theirs, ours)
    _check_message(getattr(ro, name), "lr", ours)


def test_sweep_covers_both_outcomes():
    """The table is not vacuous: torch accepts and rejects values of every class in it."""
    for name, args in ARGUMENTS.items():
        outcomes = {_outcome(getattr(torch.optim, name), _kwargs(a, v)) is None
                    for a in args for v in NUMBERS}
        assert outcomes == {True, False}, name


@pytest.mark.parametrize("kwargs", [{"alpha": 1.5}, {"alpha": math.inf}, {"alpha": 0.0}])
def test_rmsprop_takes_any_alpha_torch_takes_and_steps_like_it(kwargs):
    """The widened range is real: ravine's RMSprop steps as torch's does at alpha > 1."""
    results = []
    for cls in (torch.optim.RMSprop, ro.RMSprop):
        w = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64))
        opt = cls([w], lr=0.01, **kwargs)
        for _ in range(3):
            opt.zero_grad()
            (w ** 2).sum().backward()
            opt.step()
        results.append(w.detach().clone())
    torch.testing.assert_close(results[1], results[0], equal_nan=True)


def test_sgd_accepts_nan_and_any_dampening_like_torch():
    """torch.optim.SGD only rejects values < 0 (nan passes) and never checks dampening."""
    w = torch.nn.Parameter(torch.zeros(2))
    for kwargs in ({"lr": math.nan}, {"momentum": math.nan}, {"weight_decay": math.nan},
                   {"dampening": -1.0}, {"dampening": 2.0}, {"dampening": math.nan}):
        ro.SGD([w], **kwargs)
        torch.optim.SGD([w], **kwargs)
    for kwargs in ({"lr": -1.0}, {"momentum": -0.5}, {"weight_decay": -1e-3}):
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            ro.SGD([w], **kwargs)
    with pytest.raises(ValueError, match="Nesterov"):
        ro.SGD([w], momentum=0.9, dampening=math.nan, nesterov=True)


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_sgd_dampening_must_be_a_number(value):
    """The one deliberate difference: torch takes any object as dampening, ravine a number."""
    torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], dampening=value)
    with pytest.raises(TypeError, match="dampening"):
        ro.SGD([torch.nn.Parameter(torch.zeros(2))], dampening=value)


# Adafactor and Muon (torch 2.13). Muon takes only 2-D parameters, so these are probed with a
# 3 x 2 matrix; Adafactor's eps is the pair (eps1, eps2), probed one entry at a time.
MATRIX_ARGUMENTS = {
    "Adafactor": ("lr", "beta2_decay", "eps[0]", "eps[1]", "d", "weight_decay"),
    "Muon": ("lr", "momentum", "weight_decay"),
}


def _matrix_kwargs(argument: str, value) -> dict:
    if argument == "eps[0]":
        return {"eps": (value, 1e-3)}
    if argument == "eps[1]":
        return {"eps": (None, value)}
    return {argument: value}


def _matrix_outcome(cls, kwargs: dict):
    param = torch.nn.Parameter(torch.zeros(3, 2, dtype=torch.float64))
    try:
        cls([param], **kwargs)
    except (ValueError, TypeError, RuntimeError) as error:
        return error
    return None


MATRIX_CASES = [(name, arg, value) for name, args in MATRIX_ARGUMENTS.items() for arg in args
                for value in NUMBERS + NOT_NUMBERS]


@pytest.mark.parametrize("name,argument,value", MATRIX_CASES,
                         ids=[f"{n}-{a}-{v!r}" for n, a, v in MATRIX_CASES])
def test_matrix_optimizers_raise_exactly_when_torch_raises(name, argument, value):
    kwargs = _matrix_kwargs(argument, value)
    theirs = _matrix_outcome(getattr(torch.optim, name), kwargs)
    ours = _matrix_outcome(getattr(ro, name), kwargs)
    assert type(ours) is type(theirs), (kwargs, theirs, ours)
    _check_message(getattr(ro, name), argument, ours)


MATRIX_TENSOR_CASES = [(name, lr_id, flags) for name in MATRIX_ARGUMENTS for lr_id in TENSOR_LRS
                       for flags in FLAGS if _takes(getattr(torch.optim, name), flags)]


@pytest.mark.parametrize("name,lr_id,flags", MATRIX_TENSOR_CASES,
                         ids=[f"{n}-{i}-{'-'.join(f) or 'default'}"
                              for n, i, f in MATRIX_TENSOR_CASES])
def test_matrix_optimizers_take_tensor_lr_where_torch_does(name, lr_id, flags):
    kwargs = {"lr": TENSOR_LRS[lr_id], **flags}
    theirs = _matrix_outcome(getattr(torch.optim, name), kwargs)
    ours = _matrix_outcome(getattr(ro, name), kwargs)
    assert type(ours) is type(theirs), (kwargs, theirs, ours)
    _check_message(getattr(ro, name), "lr", ours)


def test_matrix_sweep_covers_both_outcomes():
    for name, args in MATRIX_ARGUMENTS.items():
        outcomes = {_matrix_outcome(getattr(torch.optim, name), _matrix_kwargs(a, v)) is None
                    for a in args for v in NUMBERS}
        assert outcomes == {True, False}, name


@pytest.mark.parametrize("value", [None, "original", "match_rms_adamw", "spectral", 1.0])
def test_muon_adjust_lr_fn_like_torch(value):
    theirs = _matrix_outcome(torch.optim.Muon, {"adjust_lr_fn": value})
    ours = _matrix_outcome(ro.Muon, {"adjust_lr_fn": value})
    assert type(ours) is type(theirs), (value, theirs, ours)
    _check_message(ro.Muon, "adjust_lr_fn", ours)


@pytest.mark.parametrize("shape", [(), (3,), (2, 3, 4)])
def test_muon_rejects_non_matrices_like_torch(shape):
    for cls in (torch.optim.Muon, ro.Muon):
        with pytest.raises(ValueError, match="2D parameters"):
            cls([torch.nn.Parameter(torch.zeros(shape))])


@pytest.mark.parametrize("kwargs", [{"ns_steps": 100}, {"ns_steps": -1}, {"ns_steps": 2.0},
                                    {"ns_coefficients": (1.0, 2.0)}, {"eps": -1e-7}])
def test_muon_checks_what_torch_checks_only_at_step_or_never(kwargs):
    """The deliberate difference: ravine rejects these when the optimizer is built; torch
    builds it (and raises ValueError at the first step for ns_steps >= 100 or 2
    coefficients, silently runs no iteration for ns_steps < 0)."""
    assert _matrix_outcome(torch.optim.Muon, kwargs) is None
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ro.Muon([torch.nn.Parameter(torch.zeros(3, 2))], **kwargs)

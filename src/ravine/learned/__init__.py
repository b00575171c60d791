"""Learning to learn: a coordinatewise LSTM optimizer, meta-trained, used like any optimizer.

- :class:`CoordinatewiseLSTM` and :func:`preprocess_gradients`: the network (``lstm``);
- :class:`QuadraticFamily`, :class:`DigitsMLPFamily`: problems to train on (``problems``);
- :func:`meta_train`, :func:`meta_loss`, :func:`evaluate`: truncated BPTT (``meta_train``);
- :func:`optimizer_curves`, :func:`tune_lr`: hand-designed baselines (``baselines``);
- :class:`LearnedOptimizer`, :func:`save_network`, :func:`load_network` (``optimizer``).

References:
    Andrychowicz et al., "Learning to learn by gradient descent by gradient descent",
    NeurIPS 2016.
"""

from .baselines import optimizer_curves, tune_lr
from .lstm import CoordinatewiseLSTM, LSTMState, preprocess_gradients
from .meta_train import MetaTrainResult, evaluate, learned_step, meta_loss, meta_train
from .optimizer import LearnedOptimizer, load_network, save_network
from .problems import DigitsMLPFamily, DigitsMLPProblem, QuadraticFamily, QuadraticProblem

__all__ = [
    "CoordinatewiseLSTM",
    "DigitsMLPFamily",
    "DigitsMLPProblem",
    "LSTMState",
    "LearnedOptimizer",
    "MetaTrainResult",
    "QuadraticFamily",
    "QuadraticProblem",
    "evaluate",
    "learned_step",
    "load_network",
    "meta_loss",
    "meta_train",
    "optimizer_curves",
    "preprocess_gradients",
    "save_network",
    "tune_lr",
]

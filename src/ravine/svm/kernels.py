"""Kernel functions for the SVM, computed in blocks with BLAS.

Each kernel maps two sample matrices ``A`` (m x d) and ``B`` (n x d) to the m x n Gram block
``K[i, j] = k(a_i, b_j)``. The formulas are libsvm's (Chang & Lin, 2011), so that ravine's SVC
and scikit-learn's agree:

- linear:  ``k(a, b) = a . b``
- rbf:     ``k(a, b) = exp(-gamma * ||a - b||^2)``
- poly:    ``k(a, b) = (gamma * a . b + coef0) ** degree``
- sigmoid: ``k(a, b) = tanh(gamma * a . b + coef0)``

References:
    Chang, C.-C. and Lin, C.-J. (2011). LIBSVM: a library for support vector machines.
    ACM Transactions on Intelligent Systems and Technology 2(3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

KERNELS = ("linear", "rbf", "poly", "sigmoid")


def resolve_gamma(gamma, X: np.ndarray) -> float:
    """Turn ``gamma`` ('scale', 'auto' or a positive number) into a float for data ``X``.

    Args:
        gamma: ``'scale'`` gives ``1 / (n_features * X.var())`` (1.0 when the variance is 0),
            ``'auto'`` gives ``1 / n_features``; a number must be > 0.
        X: training samples, shape (n_samples, n_features).

    Returns:
        The kernel coefficient as a float.

    Examples:
        >>> import numpy as np
        >>> resolve_gamma("auto", np.zeros((3, 4)))
        0.25
        >>> resolve_gamma(0.5, np.zeros((3, 4)))
        0.5
    """
    if isinstance(gamma, str):
        if gamma == "scale":
            var = float(X.var())
            return 1.0 / (X.shape[1] * var) if var != 0 else 1.0
        if gamma == "auto":
            return 1.0 / X.shape[1]
        raise ValueError(f"gamma must be 'scale', 'auto' or a float > 0, got {gamma!r}.")
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.number)):
        kind = type(gamma).__name__
        raise TypeError(f"gamma must be 'scale', 'auto' or a float > 0, got {kind}.")
    if not np.isfinite(gamma) or gamma <= 0:
        raise ValueError(f"gamma must be 'scale', 'auto' or a float > 0, got {gamma!r}.")
    return float(gamma)


@dataclass(frozen=True)
class Kernel:
    """A kernel with its resolved hyperparameters; ``kernel(A, B)`` returns the Gram block.

    Args:
        name: one of ``'linear'``, ``'rbf'``, ``'poly'``, ``'sigmoid'``, or ``'callable'``.
        gamma: coefficient for rbf, poly and sigmoid.
        degree: exponent of the poly kernel.
        coef0: additive term of poly and sigmoid.
        function: the user's ``f(A, B) -> (m, n) array`` when ``name == 'callable'``.

    Examples:
        >>> import numpy as np
        >>> k = Kernel("rbf", gamma=0.5)
        >>> k(np.array([[0.0, 0.0]]), np.array([[1.0, 1.0]])).round(6)
        array([[0.367879]])
    """

    name: str
    gamma: float = 1.0
    degree: int = 3
    coef0: float = 0.0
    function: Callable | None = None

    def __call__(self, A: np.ndarray, B: np.ndarray, B_sq: np.ndarray | None = None):
        """Gram block between rows of ``A`` and rows of ``B`` (``B_sq``: cached row norms)."""
        if self.name == "callable":
            K = np.asarray(self.function(A, B), dtype=np.float64)
            if K.shape != (A.shape[0], B.shape[0]):
                raise ValueError(
                    f"kernel callable must return an array of shape {(A.shape[0], B.shape[0])},"
                    f" got {K.shape}."
                )
            return K
        dot = A @ B.T
        if self.name == "linear":
            return dot
        if self.name == "rbf":
            A_sq = np.einsum("ij,ij->i", A, A)
            if B_sq is None:
                B_sq = np.einsum("ij,ij->i", B, B)
            dot *= -2.0
            dot += A_sq[:, None]
            dot += B_sq[None, :]
            np.maximum(dot, 0.0, out=dot)
            dot *= -self.gamma
            return np.exp(dot, out=dot)
        if self.name == "poly":
            dot *= self.gamma
            dot += self.coef0
            return dot**self.degree
        if self.name == "sigmoid":
            dot *= self.gamma
            dot += self.coef0
            return np.tanh(dot, out=dot)
        raise ValueError(f"kernel must be one of {KERNELS} or a callable, got {self.name!r}.")

    def diagonal(self, X: np.ndarray) -> np.ndarray:
        """The values ``k(x_i, x_i)`` for every row of ``X``."""
        if self.name == "rbf":
            return np.ones(X.shape[0])
        if self.name == "callable":
            return np.array([self(X[i : i + 1], X[i : i + 1])[0, 0] for i in range(X.shape[0])])
        sq = np.einsum("ij,ij->i", X, X)
        if self.name == "linear":
            return sq
        if self.name == "poly":
            return (self.gamma * sq + self.coef0) ** self.degree
        return np.tanh(self.gamma * sq + self.coef0)


def make_kernel(kernel, X: np.ndarray, gamma="scale", degree=3, coef0=0.0) -> Kernel:
    """Validate the kernel arguments of an SVC and build a :class:`Kernel` for data ``X``.

    Args:
        kernel: ``'linear'``, ``'rbf'``, ``'poly'``, ``'sigmoid'`` or a callable ``f(A, B)``.
        X: training samples (used to resolve ``gamma='scale'``).
        gamma: ``'scale'``, ``'auto'`` or a float > 0.
        degree: non-negative integer degree of the poly kernel.
        coef0: float, independent term of poly and sigmoid.

    Returns:
        A :class:`Kernel`.
    """
    if callable(kernel):
        return Kernel("callable", function=kernel)
    if not isinstance(kernel, str) or kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS} or a callable, got {kernel!r}.")
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)):
        raise TypeError(f"degree must be an int >= 0, got {type(degree).__name__}.")
    if degree < 0:
        raise ValueError(f"degree must be an int >= 0, got {degree}.")
    if isinstance(coef0, bool) or not isinstance(coef0, (int, float, np.number)):
        raise TypeError(f"coef0 must be a float, got {type(coef0).__name__}.")
    g = resolve_gamma(gamma, X)
    return Kernel(kernel, gamma=g, degree=int(degree), coef0=float(coef0))

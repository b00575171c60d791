"""SVC: a support vector classifier trained by SMO, with scikit-learn's estimator API.

Classes are handled one against one (a binary SVM per pair of classes, prediction by vote), as
libsvm does; with a built-in kernel every pair is solved in one compiled call
(:func:`ravine.svm.pairs.solve_pairs`), with a callable one by :func:`ravine.svm.smo.solve_smo`
per pair (the callable gives each pair's Gram matrix); both run the same SMO. The learned
attributes have scikit-learn's layout, so code written for ``sklearn.svm.SVC`` reads them alike.

Decision function of the pair (i, j), with class i as +1:
``f(x) = sum_s alpha_s y_s k(x_s, x) + b``.

Weights bound the multipliers per sample, as libsvm's instance weights do (and as scikit-learn
passes them): ``0 <= alpha_s <= C_s = C * class_weight[y_s] * sample_weight_s``. Samples of
weight <= 0 leave the problem before it is solved (libsvm's ``remove_zero_weight``).

References:
    Cortes, C. and Vapnik, V. (1995). Support-vector networks. Machine Learning 20(3).
    Hsu, C.-W. and Lin, C.-J. (2002). A comparison of methods for multiclass support vector
    machines. IEEE Transactions on Neural Networks 13(2).
    Chang, C.-C. and Lin, C.-J. (2011). LIBSVM: a library for support vector machines. ACM TIST.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .kernels import make_kernel
from .pairs import solve_pairs
from .smo import solve_smo, warn_not_converged


class SVC(ClassifierMixin, BaseEstimator):
    """C-support vector classifier trained by SMO (second-order working sets, cache, shrinking).

    Args:
        C: box bound on the dual multipliers (inverse regularisation), > 0.
        kernel: ``'linear'``, ``'rbf'``, ``'poly'``, ``'sigmoid'`` or a callable ``f(A, B)``
            returning the Gram block of shape ``(len(A), len(B))``.
        degree: degree of the poly kernel, int >= 0.
        gamma: ``'scale'`` (``1 / (n_features * X.var())``), ``'auto'`` (``1 / n_features``) or
            a float > 0.
        coef0: independent term of the poly and sigmoid kernels.
        shrinking: whether the solver shrinks its active set.
        tol: stopping tolerance on the KKT violation ``m(alpha) - M(alpha)``, > 0.
        cache_size: kernel cache size in MB, > 0.
        max_iter: limit on SMO iterations per binary problem, -1 for none.
        decision_function_shape: ``'ovr'`` (votes plus scaled confidences, shape
            (n_samples, n_classes)) or ``'ovo'`` (one column per pair).
        break_ties: with ``'ovr'`` and more than two classes, predict by the argmax of
            :meth:`decision_function` instead of the plain vote.
        class_weight: ``None`` (all 1), a dict ``{label: weight > 0}`` (missing labels weigh
            1), or ``'balanced'``: ``n_samples / (n_classes * bincount(y))``, counted over
            all samples whatever their ``sample_weight``, as scikit-learn does. Class ``k``'s
            samples get the box bound ``C * class_weight[k]``.

    Attributes (after ``fit``):
        classes_, class_weight_, support_, support_vectors_, n_support_, dual_coef_,
        intercept_, n_iter_, fit_status_, shape_fit_, n_features_in_.

    Examples:
        >>> import numpy as np
        >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [3.0, 3.0], [3.0, 4.0]])
        >>> clf = SVC(kernel="linear").fit(X, [0, 0, 1, 1])
        >>> clf.predict([[0.5, 0.5], [3.0, 3.5]])
        array([0, 1])
        >>> clf.support_
        array([1, 2], dtype=int32)
    """

    def __init__(
        self,
        C=1.0,
        kernel="rbf",
        degree=3,
        gamma="scale",
        coef0=0.0,
        shrinking=True,
        tol=1e-3,
        cache_size=200,
        max_iter=-1,
        decision_function_shape="ovr",
        break_ties=False,
        class_weight=None,
    ):
        self.C = C
        self.kernel = kernel
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self.shrinking = shrinking
        self.tol = tol
        self.cache_size = cache_size
        self.max_iter = max_iter
        self.decision_function_shape = decision_function_shape
        self.break_ties = break_ties
        self.class_weight = class_weight

    def _check_params(self):
        def number(name):
            value = getattr(self, name)
            message = f"The '{name}' parameter of SVC must be a float > 0, got {value!r}."
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(message)
            if not np.isfinite(value) or value <= 0:
                raise ValueError(message)

        for name in ("C", "tol", "cache_size"):
            number(name)
        if isinstance(self.max_iter, bool) or not isinstance(self.max_iter, numbers.Integral):
            raise TypeError(
                f"The 'max_iter' parameter of SVC must be an int, got {self.max_iter!r}."
            )
        if self.max_iter < -1 or self.max_iter == 0:
            raise ValueError(
                f"The 'max_iter' parameter of SVC must be -1 (no limit) or an int >= 1, got"
                f" {self.max_iter}."
            )
        if self.decision_function_shape not in ("ovr", "ovo"):
            raise ValueError(
                "The 'decision_function_shape' parameter of SVC must be 'ovr' or 'ovo', got"
                f" {self.decision_function_shape!r}."
            )
        weight = self.class_weight
        if not (weight is None or isinstance(weight, dict)
                or (isinstance(weight, str) and weight == "balanced")):
            # scikit-learn's error type (a ValueError and a TypeError) and message
            raise InvalidParameterError(
                "The 'class_weight' parameter of SVC must be a str among {'balanced'}, an"
                f" instance of 'dict' or None. Got {weight!r} instead."
            )

    def fit(self, X, y, sample_weight=None):
        """Fit the SVM: one SMO solve per pair of classes.

        Args:
            X: training samples, array-like of shape (n_samples, n_features).
            y: class labels, shape (n_samples,).
            sample_weight: per-sample weights, shape (n_samples,), finite (None: all 1).
                Sample ``s`` gets the box bound ``C * class_weight_[y_s] * sample_weight[s]``;
                samples of weight <= 0 are left out, as libsvm does (``support_`` still
                indexes ``X``).

        Returns:
            self.
        """
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64, order="C")
        check_classification_targets(y)
        classes, y_index = np.unique(y, return_inverse=True)
        if self.class_weight is None:  # compute_class_weight's answer, without its 0.3 ms
            class_weight = np.ones(classes.size)
        else:
            class_weight = compute_class_weight(self.class_weight, classes=classes, y=y)
            if not np.all(np.isfinite(class_weight) & (class_weight > 0)):
                given = dict(zip(classes.tolist(), class_weight.tolist(), strict=True))
                raise ValueError(
                    "The 'class_weight' parameter of SVC must map classes to weights > 0"
                    f" (finite), got {given}."
                )
        self.class_weight_ = class_weight
        self.classes_ = classes
        if self.classes_.size < 2:
            raise ValueError(
                "The number of classes has to be greater than one; got"
                f" {self.classes_.size} class."
            )
        if sample_weight is None and self.class_weight is None:  # the unweighted problem
            bounds = np.full(X.shape[0], float(self.C))
        else:  # C_s = W_s * (C * class_weight[y_s]), libsvm's product and order (C when all 1)
            bounds = _sample_weight(sample_weight, X, y_index, self.classes_) * (
                float(self.C) * class_weight[y_index]
            )
        kern = make_kernel(self.kernel, X, self.gamma, self.degree, self.coef0)
        self._kernel = kern
        self._gamma = kern.gamma
        n_classes = self.classes_.size
        if kern.name == "callable":
            rows, coef, intercepts, n_iter = self._solve_pairs_one_by_one(
                kern, X, bounds, y_index, n_classes
            )
        else:  # every pair in one compiled call, on the shared X
            rows, coef, intercepts, n_iter, violation, converged = solve_pairs(
                kern, X, bounds, y_index, n_classes, tol=float(self.tol),
                max_iter=int(self.max_iter), cache_size=float(self.cache_size),
                shrinking=bool(self.shrinking),
            )
            for p in np.flatnonzero(~converged):
                warn_not_converged(self.max_iter, self.tol, violation[p], stacklevel=3)
        # every pair's nonzero coefficients at once: sample, coefficient, the pair's classes
        counts = np.bincount(y_index[bounds > 0], minlength=n_classes)
        first, second = np.triu_indices(n_classes, 1)
        sizes = counts[first] + counts[second]
        nonzero = coef != 0
        rows, coef = rows[nonzero], coef[nonzero]
        first, second = np.repeat(first, sizes)[nonzero], np.repeat(second, sizes)[nonzero]
        # support vectors: samples with a nonzero multiplier in any pair, grouped by class
        sv = np.unique(rows)
        support = sv[np.argsort(y_index[sv], kind="stable")]
        self.n_support_ = np.bincount(y_index[sv], minlength=n_classes).astype(np.int32)
        position = np.full(X.shape[0], -1)
        position[support] = np.arange(support.size)
        starts = np.concatenate([[0], np.cumsum(self.n_support_)])
        # libsvm's layout: in pair (i, j), class i's coefficients go to row j-1, class j's to
        # row i (each (row, sample) cell is written by one pair only)
        dual_coef = np.zeros((n_classes - 1, support.size))
        dual_row = np.where(y_index[rows] == first, second - 1, first)
        dual_coef[dual_row, position[rows]] = coef
        self.support_ = support.astype(np.int32)
        self.support_vectors_ = X[support]
        self._dual_coef = dual_coef
        self._intercept = np.array(intercepts)
        self.n_iter_ = np.array(n_iter, dtype=np.int32)
        self.fit_status_ = 0
        self.shape_fit_ = X.shape
        self._starts = starts
        if n_classes == 2:  # scikit-learn's sign convention: positive means classes_[1]
            self.dual_coef_ = -dual_coef
            self.intercept_ = -self._intercept
        else:
            self.dual_coef_ = dual_coef
            self.intercept_ = self._intercept.copy()
        return self

    def _solve_pairs_one_by_one(self, kern, X, bounds, y_index, n_classes):
        """:func:`~ravine.svm.pairs.solve_pairs`'s results, one :func:`solve_smo` per pair
        (callable kernels: each pair's Gram matrix is the callable's on the pair's rows)."""
        kept = np.flatnonzero(bounds > 0)
        kept = kept[np.argsort(y_index[kept], kind="stable")]
        counts = np.bincount(y_index[kept], minlength=n_classes)
        members = np.split(kept, np.cumsum(counts)[:-1])
        pair_rows, pair_coef, intercepts, n_iter = [], [], [], []
        for i in range(n_classes):
            for j in range(i + 1, n_classes):
                rows = np.concatenate((members[i], members[j]))
                y_pm = np.empty(rows.size)
                y_pm[: counts[i]], y_pm[counts[i] :] = 1.0, -1.0
                result = solve_smo(
                    kern, X[rows], y_pm, bounds[rows], tol=float(self.tol),
                    max_iter=int(self.max_iter), cache_size=float(self.cache_size),
                    shrinking=bool(self.shrinking),
                )
                pair_rows.append(rows)
                pair_coef.append(result.alpha * y_pm)
                intercepts.append(result.intercept)
                n_iter.append(result.n_iter)
        return np.concatenate(pair_rows), np.concatenate(pair_coef), intercepts, n_iter

    def _pairwise_decision(self, X):
        """Decision values of every pair (i < j), class i positive; shape (n, n_pairs)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, order="C", reset=False)
        K = self._kernel(X, self.support_vectors_)
        s, n_classes = self._starts, self.classes_.size
        out = np.empty((X.shape[0], len(self._intercept)))
        p = 0
        for i in range(n_classes):
            for j in range(i + 1, n_classes):
                out[:, p] = (
                    K[:, s[i] : s[i + 1]] @ self._dual_coef[j - 1, s[i] : s[i + 1]]
                    + K[:, s[j] : s[j + 1]] @ self._dual_coef[i, s[j] : s[j + 1]]
                    + self._intercept[p]
                )
                p += 1
        return out

    def _votes(self, pairwise):
        n_classes = self.classes_.size
        votes = np.zeros((pairwise.shape[0], n_classes))
        confidence = np.zeros((pairwise.shape[0], n_classes))
        p = 0
        for i in range(n_classes):
            for j in range(i + 1, n_classes):
                wins = pairwise[:, p] > 0
                votes[:, i] += wins
                votes[:, j] += ~wins
                confidence[:, i] += pairwise[:, p]
                confidence[:, j] -= pairwise[:, p]
                p += 1
        return votes, confidence

    def decision_function(self, X):
        """Signed distances to the separating surfaces.

        Args:
            X: samples, shape (n_samples, n_features).

        Returns:
            Two classes: shape (n_samples,), positive for ``classes_[1]``. More: with
            ``'ovr'``, votes plus ``conf / (3 (|conf| + 1))`` per class, shape
            (n_samples, n_classes); with ``'ovo'`` the pairwise values, (n_samples, n_pairs).
        """
        pairwise = self._pairwise_decision(X)
        if self.classes_.size == 2:
            return -pairwise[:, 0]
        if self.decision_function_shape == "ovo":
            return pairwise
        votes, confidence = self._votes(pairwise)
        return votes + confidence / (3 * (np.abs(confidence) + 1))

    def predict(self, X):
        """Predicted class of each sample (one-vs-one vote, ties to the lowest class index).

        Args:
            X: samples, shape (n_samples, n_features).

        Returns:
            Labels, shape (n_samples,).
        """
        pairwise = self._pairwise_decision(X)
        if self.classes_.size == 2:
            return self.classes_[(pairwise[:, 0] <= 0).astype(int)]
        votes, confidence = self._votes(pairwise)
        if self.break_ties and self.decision_function_shape == "ovr":
            votes = votes + confidence / (3 * (np.abs(confidence) + 1))
        return self.classes_[np.argmax(votes, axis=1)]


def _sample_weight(sample_weight, X, y_index, classes):
    """Checked sample weights as float64 of shape (n_samples,) (ones for None).

    Errors as scikit-learn's SVC (libsvm's messages) for a wrong length, all weights <= 0, or
    the positive weights on one class; unlike it, non-finite weights are refused (libsvm drops
    a NaN-weighted sample silently), and so is a class whose weights are all <= 0 (libsvm drops
    the class and returns a model that no longer matches ``classes_``, scikit-learn issue #5150).
    """
    n = X.shape[0]
    if sample_weight is None:
        return np.ones(n)
    weight = np.asarray(sample_weight, dtype=np.float64)
    if weight.ndim == 0:  # a scalar weighs every sample alike (scikit-learn's _check_sample_weight)
        weight = np.full(n, float(weight))
    if weight.ndim != 1:
        raise ValueError(
            f"sample_weight must be 1-D, of shape ({n},); got shape {weight.shape}."
        )
    if weight.shape[0] != n:
        raise ValueError(
            f"sample_weight and X have incompatible shapes: {weight.shape} vs {X.shape}."
        )
    if not np.all(np.isfinite(weight)):
        raise ValueError("sample_weight must be finite; it contains NaN or infinity.")
    positive = weight > 0
    if not positive.any():
        raise ValueError("Invalid input - all samples have zero or negative weights.")
    counts = np.bincount(y_index[positive], minlength=classes.size)
    if np.count_nonzero(counts) == 1:
        raise ValueError(
            "Invalid input - all samples with positive weights belong to the same class."
        )
    if not counts.all():
        raise ValueError(
            "sample_weight must give each class at least one sample of weight > 0; class(es)"
            f" {classes[counts == 0].tolist()} have none."
        )
    return weight

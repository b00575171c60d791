"""Sample and class weights of ravine.svm.SVC against sklearn.svm.SVC (libsvm) on the same data.

libsvm bounds each multiplier by ``C_s = C * class_weight[y_s] * sample_weight_s`` and drops
samples of weight <= 0. scikit-learn's ``support_`` then indexes the kept samples only (its
issue #25380), so its dual problems are read on those samples; ravine's ``support_`` indexes X.
"""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC as SkSVC

from ravine.svm import SVC, dual_objectives, kkt_violations


def _breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _digits():  # 10 classes: 45 one-vs-one problems, each with its own pair of class weights
    X, y = load_digits(return_X_y=True)
    return X[:1000], y[:1000]


def _imbalanced():  # 9 to 1
    X, y = make_classification(n_samples=2000, n_features=10, n_informative=6,
                               weights=[0.9, 0.1], flip_y=0.03, random_state=1)
    return StandardScaler().fit_transform(X), y


DATASETS = {"breast_cancer": _breast_cancer, "digits": _digits, "imbalanced": _imbalanced}


def _weights(kind, y):
    rng = np.random.default_rng(0)
    if kind == "sample_weight_with_zeros":  # 10% zeros, the rest in [0.2, 3)
        w = rng.uniform(0.2, 3.0, y.shape[0])
        w[rng.random(y.shape[0]) < 0.1] = 0.0
        return {}, w
    if kind == "balanced":
        return {"class_weight": "balanced"}, None
    classes = np.unique(y)  # a dict: some classes up-weighted, one left out (weight 1)
    return {"class_weight": {c: 0.5 + 1.5 * (k % 3) for k, c in enumerate(classes[1:])}}, None


def _support_set(model, kept):
    return set(kept[model.support_].tolist())


@pytest.mark.parametrize("kind", ["balanced", "dict", "sample_weight_with_zeros"])
@pytest.mark.parametrize("kernel", ["linear", "rbf"])
@pytest.mark.parametrize("name", list(DATASETS))
def test_svm_weighted_fit_matches_sklearn(name, kernel, kind):
    X, y = DATASETS[name]()
    params, w = _weights(kind, y)
    ours = SVC(kernel=kernel, **params).fit(X, y, sample_weight=w)
    ref = SkSVC(kernel=kernel, **params).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.class_weight_, ref.class_weight_, rtol=1e-15)
    kept = np.arange(y.shape[0]) if w is None else np.flatnonzero(w > 0)
    w_kept = None if w is None else w[kept]
    D_ours = dual_objectives(ours, X, y, w)
    D_ref = dual_objectives(ref, X[kept], y[kept], w_kept)
    np.testing.assert_allclose(D_ours, D_ref, rtol=1e-6)
    assert kkt_violations(ours, X, y, w).max() <= ours.tol
    assert np.mean(ours.predict(X) == ref.predict(X)) >= 0.995
    difference = _support_set(ours, np.arange(y.shape[0])) ^ _support_set(ref, kept)
    assert len(difference) <= 2
    if w is not None:
        assert np.all(w[ours.support_] > 0)  # a dropped sample is never a support vector
        np.testing.assert_array_equal(ours.support_vectors_, X[ours.support_])


def test_svm_weights_move_the_boundary_on_imbalanced_data():
    # the point of class weights: "balanced" recalls more of the rare class (here, and libsvm's)
    X, y = _imbalanced()
    plain, balanced = SVC().fit(X, y), SVC(class_weight="balanced").fit(X, y)
    recall = [np.mean(m.predict(X[y == 1]) == 1) for m in (plain, balanced)]
    assert recall[1] > recall[0] + 0.05
    ref = SkSVC(class_weight="balanced").fit(X, y)
    assert np.mean(ref.predict(X[y == 1]) == 1) == pytest.approx(recall[1], abs=0.005)

"""ravine.svm.SVC against sklearn.svm.SVC (libsvm) with the same hyperparameters."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC as SkSVC

from ravine.svm import SVC, dual_objectives, kkt_violations


def _digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.4, random_state=0, stratify=y)


def _breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return train_test_split(X, y, test_size=0.5, random_state=0, stratify=y)


def _generated():
    X, y = make_classification(
        n_samples=6000, n_features=20, n_informative=10, flip_y=0.02, random_state=0
    )
    X = StandardScaler().fit_transform(X)
    return train_test_split(X, y, train_size=5000, random_state=0, stratify=y)


DATASETS = {"digits": _digits, "breast_cancer": _breast_cancer, "generated_5000x20": _generated}


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
@pytest.mark.parametrize("name", list(DATASETS))
def test_svm_matches_sklearn(name, kernel):
    X_train, X_test, y_train, y_test = DATASETS[name]()
    ours = SVC(kernel=kernel).fit(X_train, y_train)
    ref = SkSVC(kernel=kernel).fit(X_train, y_train)
    D_ours = dual_objectives(ours, X_train, y_train)
    D_ref = dual_objectives(ref, X_train, y_train)
    np.testing.assert_allclose(D_ours, D_ref, rtol=1e-3)
    assert kkt_violations(ours, X_train, y_train).max() <= ours.tol
    same = np.mean(ours.predict(X_test) == ref.predict(X_test))
    assert same >= 0.995
    assert abs(ours.score(X_test, y_test) - ref.score(X_test, y_test)) <= 0.003
    assert abs(ours.support_.size - ref.support_.size) <= max(2, 0.01 * ref.support_.size)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=5e-3 * max(1, ours.C))


def test_svm_binary_attributes_follow_sklearn_layout():
    X_train, X_test, y_train, _ = _breast_cancer()
    ours = SVC(kernel="rbf", tol=1e-6).fit(X_train, y_train)
    ref = SkSVC(kernel="rbf", tol=1e-6).fit(X_train, y_train)
    np.testing.assert_array_equal(ours.support_, ref.support_)
    np.testing.assert_array_equal(ours.n_support_, ref.n_support_)
    np.testing.assert_allclose(ours.dual_coef_, ref.dual_coef_, atol=1e-4)
    np.testing.assert_allclose(ours.support_vectors_, ref.support_vectors_)
    np.testing.assert_allclose(
        ours.decision_function(X_test), ref.decision_function(X_test), atol=1e-4
    )
    assert ours.n_iter_.shape == ref.n_iter_.shape == (1,)


@pytest.mark.parametrize("shape", ["ovr", "ovo"])
def test_svm_multiclass_decision_function_matches_sklearn(shape):
    X_train, X_test, y_train, _ = _digits()
    ours = SVC(decision_function_shape=shape, tol=1e-6).fit(X_train[:400], y_train[:400])
    ref = SkSVC(decision_function_shape=shape, tol=1e-6).fit(X_train[:400], y_train[:400])
    np.testing.assert_allclose(
        ours.decision_function(X_test), ref.decision_function(X_test), atol=1e-4
    )
    np.testing.assert_array_equal(ours.predict(X_test), ref.predict(X_test))


@pytest.mark.parametrize("kernel", ["poly", "sigmoid"])
def test_svm_poly_sigmoid_match_sklearn(kernel):
    X_train, X_test, y_train, _ = _breast_cancer()
    kw = dict(kernel=kernel, gamma=0.01, coef0=0.5, degree=3)
    ours, ref = SVC(**kw).fit(X_train, y_train), SkSVC(**kw).fit(X_train, y_train)
    np.testing.assert_allclose(
        dual_objectives(ours, X_train, y_train), dual_objectives(ref, X_train, y_train), rtol=1e-3
    )
    assert np.mean(ours.predict(X_test) == ref.predict(X_test)) >= 0.99

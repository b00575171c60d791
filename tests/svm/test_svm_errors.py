"""Bad input to ravine.svm.SVC gets scikit-learn's kind of errors."""

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from ravine.svm import SVC

X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
y = np.array([0, 0, 1, 1])


def test_svm_nan_in_X():
    bad = X.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SVC().fit(bad, y)
    with pytest.raises(ValueError, match="infinity"):
        SVC().fit(np.where(np.isnan(bad), np.inf, bad), y)


def test_svm_one_class():
    with pytest.raises(ValueError, match="number of classes has to be greater than one"):
        SVC().fit(X, np.zeros(4))


@pytest.mark.parametrize("name,value,error", [
    ("C", 0.0, ValueError), ("C", -1.0, ValueError), ("C", "1", TypeError),
    ("tol", 0.0, ValueError), ("cache_size", -5, ValueError), ("max_iter", 0, ValueError),
    ("max_iter", 2.5, TypeError), ("gamma", -0.1, ValueError), ("gamma", "big", ValueError),
    ("kernel", "cubic", ValueError), ("degree", -1, ValueError), ("degree", 1.5, TypeError),
    ("decision_function_shape", "ova", ValueError),
])
def test_svm_bad_hyperparameters(name, value, error):
    clf = SVC(**{name: value})  # __init__ only stores
    assert clf.get_params()[name] == value
    with pytest.raises(error, match=name):
        clf.fit(X, y)


def test_svm_mismatched_shapes():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        SVC().fit(X, y[:3])
    clf = SVC().fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but SVC is expecting 2"):
        clf.predict(np.ones((2, 3)))


def test_svm_unfitted_and_regression_target():
    with pytest.raises(NotFittedError):
        SVC().predict(X)
    with pytest.raises(ValueError, match="Unknown label type"):
        SVC().fit(X, np.array([0.1, 0.2, 0.3, 0.4]))


def test_svm_max_iter_warns_per_problem():
    rng = np.random.default_rng(0)
    Xn = rng.standard_normal((300, 4))
    yn = (rng.random(300) < 0.5).astype(int)
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        clf = SVC(max_iter=3).fit(Xn, yn)
    assert clf.n_iter_.tolist() == [3]


def test_svm_set_params_roundtrip():
    clf = SVC().set_params(C=3.0, kernel="linear")
    assert clf.get_params()["C"] == 3.0 and clf.kernel == "linear"
    assert clf.fit(X, y).score(X, y) == 1.0

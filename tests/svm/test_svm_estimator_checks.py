"""scikit-learn's estimator checks on ravine.svm.SVC.

Checks that sklearn itself skips are reported by pytest with sklearn's reason (in this
environment: pandas is not installed, and SCIPY_ARRAY_API is not set for the array-API check).

One check is an expected failure at the default hyperparameters, as it is for
``sklearn.svm.SVC`` (scikit-learn marks it so, meta-issue #16298):
``check_sample_weight_equivalence_on_dense_data`` wants the decision function fitted with
integer weights to equal, to 1e-7, the one fitted on repeated samples. The two duals have the
same optimum, but (1) SMO stops at a KKT violation of ``tol = 1e-3``, so the two solutions
differ by about 1e-4, and (2) ``gamma='scale'`` reads the variance of X, which repeating
samples changes. With ``tol=1e-10`` and a fixed gamma the same check passes (below, run
directly), which is what the weights promise. The xfail is strict: if it ever passes at the
defaults, the test suite says so.
"""

import pytest
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    parametrize_with_checks,
)

from ravine.svm import SVC

EQUIVALENCE = "check_sample_weight_equivalence_on_dense_data"


def _expected_failures(estimator):
    return {EQUIVALENCE: "SMO stops at tol=1e-3 and gamma='scale' reads X's variance"}


@parametrize_with_checks(
    [SVC(), SVC(kernel="linear")], expected_failed_checks=_expected_failures, xfail_strict=True
)
def test_svm_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", [
    SVC(kernel="linear", tol=1e-10), SVC(gamma=0.1, tol=1e-10), SVC(gamma="auto", tol=1e-10),
    SVC(kernel="poly", gamma=0.1, tol=1e-10),
], ids=repr)
def test_svm_weights_equal_repeated_samples_at_tight_tol(estimator):
    check_sample_weight_equivalence_on_dense_data("SVC", estimator)

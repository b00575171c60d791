"""scikit-learn's estimator checks on ravine.svm.SVC.

Checks that sklearn itself skips are reported by pytest with sklearn's reason (in this
environment: pandas is not installed, and SCIPY_ARRAY_API is not set for the array-API check).
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from ravine.svm import SVC


@parametrize_with_checks([SVC(), SVC(kernel="linear")])
def test_svm_sklearn_estimator_checks(estimator, check):
    check(estimator)

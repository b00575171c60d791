"""Loss landscapes: random and PCA directions (filter normalization), 1-D/2-D surfaces, linear
interpolation, trajectory projection, mode connectivity (linear, Bezier), lottery tickets, plots.

A model is seen as a function of one flat parameter vector (:class:`~ravine.analysis.FlatParams`);
directions, points, curves and masks all live in that space, and no function modifies the model
it evaluates (except the lottery-ticket functions, which train it by design).
"""

from .connectivity import (
    BezierCurve,
    LossBarrier,
    curve_path,
    linear_path,
    loss_barrier,
    train_bezier,
)
from .directions import (
    NORMALIZATIONS,
    PCADirections,
    normalize_direction,
    pca_directions,
    random_direction,
)
from .evaluate import ModelEvaluator
from .lottery import (
    LotteryResult,
    LotteryRound,
    MaskHandle,
    apply_masks,
    iterative_magnitude_pruning,
    magnitude_masks,
    mask_sparsity,
    prunable_parameters,
    reinitialize,
)
from .plot import plot_connectivity, plot_contour, plot_surface_1d
from .surface import (
    PathCurve,
    Surface1D,
    Surface2D,
    linear_interpolation,
    surface_1d,
    surface_2d,
)
from .trajectory import Projection, TrajectoryRecorder, project_trajectory

__all__ = [
    "NORMALIZATIONS",
    "BezierCurve",
    "LossBarrier",
    "LotteryResult",
    "LotteryRound",
    "MaskHandle",
    "ModelEvaluator",
    "PCADirections",
    "PathCurve",
    "Projection",
    "Surface1D",
    "Surface2D",
    "TrajectoryRecorder",
    "apply_masks",
    "curve_path",
    "iterative_magnitude_pruning",
    "linear_interpolation",
    "linear_path",
    "loss_barrier",
    "magnitude_masks",
    "mask_sparsity",
    "normalize_direction",
    "pca_directions",
    "plot_connectivity",
    "plot_contour",
    "plot_surface_1d",
    "prunable_parameters",
    "project_trajectory",
    "random_direction",
    "reinitialize",
    "surface_1d",
    "surface_2d",
    "train_bezier",
]

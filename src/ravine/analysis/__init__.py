"""Analysis: gradient checks, Hessian-vector products, extreme eigenvalues, trace, spectral
density, critical points, saddle escape and sharpness.

Every tool takes either a function of one tensor (``f(x) -> scalar``, evaluated at ``x``) or an
``nn.Module`` with ``loss_fn=`` and ``data=`` (one batch or a loader); a model is seen as a
function of its flat parameter vector (:class:`FlatParams`).
"""

from .critical import CriticalPoint, SaddleEscape, classify_critical_point, escape_saddle
from .flat import FlatParams, Objective, as_objective
from .gradcheck import GradientReport, TensorCheck, check_gradients, check_hvp
from .hvp import hessian, hvp
from .lanczos import EigenResult, LanczosResult, hessian_eigenvalues, lanczos
from .sharpness import EpsilonSharpness, Sharpness, epsilon_sharpness, sharpness
from .spectrum import SpectralDensity, TraceEstimate, hessian_density, hessian_trace

__all__ = [
    "CriticalPoint",
    "EigenResult",
    "EpsilonSharpness",
    "FlatParams",
    "GradientReport",
    "LanczosResult",
    "Objective",
    "SaddleEscape",
    "Sharpness",
    "SpectralDensity",
    "TensorCheck",
    "TraceEstimate",
    "as_objective",
    "check_gradients",
    "check_hvp",
    "classify_critical_point",
    "epsilon_sharpness",
    "escape_saddle",
    "hessian",
    "hessian_density",
    "hessian_eigenvalues",
    "hessian_trace",
    "hvp",
    "lanczos",
    "sharpness",
]

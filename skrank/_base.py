"""scikit-learn plumbing shared by every skrank estimator.

``_DeepL2Base`` validates parameters and data, builds the torch module, hands it to
the engine and turns the trained module into numpy diagnostics. Subclasses say
what the targets are (``_encode_targets``), which loss is minimized (``_loss``),
how a validation set is scored (``_validation_score``) and which module to build
(``_build_module``).
"""

import copy
import re
import time
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import diagnostics as _diag
from ._engine import train
from ._networks import FullyConnectedNet

_DTYPES = {"float32": torch.float32, "float64": torch.float64}
_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")

#: Rows per forward pass at predict time: memory stays bounded on huge inputs.
PREDICT_BATCH_ROWS = 65536
#: Inputs beyond this magnitude overflow float32 within a few layers.
_FLOAT32_SAFE = 1e15


def resolve_device(device):
    """Turn the ``device`` parameter into a ``torch.device``, with a clear error."""
    if not isinstance(device, str) or not _DEVICE_RE.match(device):
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:<index>', got {device!r}."
        )
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was requested but CUDA is not available.")
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s)."
            )
    return torch.device(device)


class _RankTracker:
    """Records the bottleneck rank during training (``track_rank_every`` > 0).

    Times exclude the tracking itself, so they read as training time to a rank.
    """

    def __init__(self, X, every, tol, n_samples, rng, include_bias):
        self.include_bias = include_bias
        self.every = every
        self.tol = tol
        self.rows = []
        if every:
            if X.shape[0] > n_samples:
                X = X[rng.choice(X.shape[0], n_samples, replace=False)]
            self.X = X
            self.start = time.perf_counter()
            self.overhead = 0.0
        self.callback = self._record if every else None

    def _record(self, n_iter, module):
        if n_iter % self.every:
            return False
        t0 = time.perf_counter()
        bn = _diag.bottleneck(module, self.X, tol=self.tol)
        norm = _diag.parameter_norm(module, include_bias=self.include_bias)
        self.rows.append((n_iter, t0 - self.start - self.overhead, bn.rank, norm))
        self.overhead += time.perf_counter() - t0
        return False

    def history(self):
        if not self.every:
            return None
        rows = np.array(self.rows, dtype=np.float64).reshape(-1, 4)
        return {
            "n_iter": rows[:, 0].astype(int),
            "time": rows[:, 1],
            "bottleneck_rank": rows[:, 2].astype(int),
            "parameter_norm": rows[:, 3],
        }


class _DeepL2Base(BaseEstimator):
    """Shared fit/predict machinery for the fully-connected deep L2 estimators."""

    _parameter_constraints = {
        "depth": [Interval(Integral, 2, None, closed="left")],
        "width": [Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"relu", "leaky_relu", "identity"})],
        "negative_slope": [Interval(Real, -1, 1, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "penalty_scaling": [StrOptions({"depth", "none"})],
        "penalize_bias": ["boolean"],
        "bias": ["boolean"],
        "solver": [StrOptions({"lbfgs", "adam", "sgd"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "warmup_iter": [Interval(Integral, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "warm_start": ["boolean"],
        "rank_tol": [Interval(Real, 0, 1, closed="neither")],
        "n_diagnostic_samples": [Interval(Integral, 1, None, closed="left")],
        "n_jacobian_points": [Interval(Integral, 0, None, closed="left")],
        "track_rank_every": [Interval(Integral, 0, None, closed="left")],
        "dtype": [StrOptions({"float32", "float64"})],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # ---- hooks for subclasses -------------------------------------------------
    def _encode_targets(self, y, *, fitting):
        raise NotImplementedError

    def _loss(self, output, target):
        raise NotImplementedError

    def _validation_score(self, module, X, Y):
        raise NotImplementedError

    def _validate_fit_data(self, X, y):
        return validate_data(
            self, X, y, multi_output=True, y_numeric=True,
            dtype=[np.float64, np.float32],
        )

    def _build_module(self, n_inputs, n_outputs, dtype):
        return FullyConnectedNet(
            n_inputs, n_outputs, depth=self.depth, width=self.width,
            activation=self.activation, negative_slope=self.negative_slope,
            bias=self.bias, dtype=dtype,
        )

    def _penalty_groups(self, module):
        return module.penalty_groups(
            penalty_scaling=self.penalty_scaling, penalize_bias=self.penalize_bias
        )

    # ---- fit ------------------------------------------------------------------
    def _fit(self, X, y):
        X, y = self._validate_fit_data(X, y)
        self._check_representable(X, "X")
        Y = self._encode_targets(y, fitting=True)
        device = resolve_device(self.device)
        dtype = _DTYPES[self.dtype]
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        generator = torch.Generator().manual_seed(seed)

        n_out = self._n_network_outputs(Y)
        if not (self.warm_start and self._compatible_module(X.shape[1], n_out)):
            module = self._build_module(X.shape[1], n_out, dtype)
            module.reset_parameters(generator=generator)
            self.module_ = module
        self.module_.to(device=device, dtype=dtype)
        self.device_ = str(device)

        X_tr, Y_tr, X_val, Y_val = self._split(X, Y, rng)
        X_fit, Y_fit = self._training_pairs(X_tr, Y_tr, rng)
        to = dict(device=device, dtype=dtype)
        X_t = torch.tensor(X_fit, **to)
        Y_t = torch.tensor(Y_fit, device=device, dtype=self._target_dtype(dtype))
        val = {}
        if X_val is not None:
            val = dict(
                X_val=torch.tensor(X_val, **to),
                Y_val=torch.tensor(Y_val, device=device, dtype=self._target_dtype(dtype)),
                score_fn=self._validation_score,
            )
        batch_size = (min(200, len(X_tr)) if self.batch_size == "auto" else self.batch_size)
        tracker = _RankTracker(X_tr, self.track_rank_every, self.rank_tol,
                               self.n_diagnostic_samples, rng, self._bias_in_norm())
        result = train(
            self.module_, X_t, Y_t,
            loss_fn=self._loss, alpha=self.alpha,
            penalty_groups=self._penalty_groups(self.module_),
            solver=self.solver, max_iter=self.max_iter, batch_size=batch_size,
            learning_rate_init=self.learning_rate_init, momentum=self.momentum,
            tol=self.tol, n_iter_no_change=self.n_iter_no_change,
            generator=generator, verbose=self.verbose, callback=tracker.callback,
            warmup_iter=self.warmup_iter, **val,
        )
        self.rank_history_ = tracker.history()
        self.loss_curve_ = np.asarray(result.loss_curve, dtype=np.float64)
        self.n_iter_ = result.n_iter
        self.validation_scores_ = (
            np.asarray(result.validation_scores) if X_val is not None else None
        )
        self.best_validation_score_ = result.best_validation_score
        self.stop_reason_ = result.stop_reason
        self.train_time_ = result.train_time
        self._compute_diagnostics(X_tr, rng)
        return self

    def _target_dtype(self, dtype):
        return dtype

    def _n_network_outputs(self, Y):
        return Y.shape[1]

    def _training_pairs(self, X, Y, rng):
        """The (input, target) pairs the engine trains on; diagnostics use ``X``."""
        return X, Y

    def _bias_in_norm(self):
        """``parameter_norm_`` counts what the penalty counts."""
        return bool(getattr(self, "penalize_bias", False))

    def _n_codes(self, rank):
        """Number of bottleneck coordinates :meth:`transform` returns."""
        return rank

    def _compatible_module(self, n_inputs, n_outputs):
        module = getattr(self, "module_", None)
        if module is None:
            return False
        W = module.weight_matrices()
        return (
            W[0].shape[1] == n_inputs and W[-1].shape[0] == n_outputs
            and len(W) == self.depth
        )

    def _split(self, X, Y, rng):
        if not self.early_stopping:
            return X, Y, None, None
        n_val = int(round(self.validation_fraction * X.shape[0]))
        if n_val < 1 or X.shape[0] - n_val < 1:
            raise ValueError(
                f"early_stopping with validation_fraction={self.validation_fraction} "
                f"needs at least 2 samples and one in each split; got {X.shape[0]}."
            )
        perm = rng.permutation(X.shape[0])
        val, tr = perm[:n_val], perm[n_val:]
        return X[tr], Y[tr], X[val], Y[val]

    # ---- diagnostics ------------------------------------------------------------
    def _compute_diagnostics(self, X, rng):
        module = self.module_
        if X.shape[0] > self.n_diagnostic_samples:
            X = X[rng.choice(X.shape[0], self.n_diagnostic_samples, replace=False)]
        Xt = _diag._as_input(module, X)
        tol = self.rank_tol
        self.layer_spectra_ = _diag.layer_spectra(module)
        # one forward pass serves every representation-based diagnostic
        outputs = _diag.layer_outputs(module, Xt)
        self.representation_spectra_ = _diag.representation_spectra(module, Xt,
                                                                     outputs=outputs)
        bn = _diag.bottleneck(module, Xt, tol=tol, outputs=outputs)
        self.layer_ranks_ = bn.weight_ranks
        self.bottleneck_rank_ = bn.rank
        self.bottleneck_layer_ = bn.layer
        self.bottleneck_mean_ = bn.mean
        k = self._n_codes(bn.rank)
        if k == bn.rank:
            self.bottleneck_components_ = bn.components
        else:
            _, post = outputs
            self.bottleneck_components_ = _diag.principal_components(
                post[bn.layer - 1], k)
        n_jac = min(self.n_jacobian_points, X.shape[0])
        if n_jac:
            pts = Xt[torch.as_tensor(rng.choice(X.shape[0], n_jac, replace=False))]
            self.jacobian_spectra_ = _diag.jacobian_spectra(module, pts)
            self.jacobian_rank_ = max(
                _diag.effective_rank(s, tol=tol) for s in self.jacobian_spectra_
            )
        else:
            self.jacobian_spectra_ = np.zeros((0, 0))
            self.jacobian_rank_ = None
        self.parameter_norm_ = _diag.parameter_norm(module, include_bias=self._bias_in_norm())
        self.norm_per_depth_ = self.parameter_norm_ / self.depth
        self.nonlinearity_impact_ = _diag.nonlinearity_impact(module, Xt, outputs=outputs)
        self.regularity_ = self.parameter_norm_ - self.depth * self.bottleneck_rank_
        self._more_diagnostics(module, outputs)

    def _more_diagnostics(self, module, outputs):
        """Estimator-specific diagnostics from the shared forward pass ``outputs``."""

    # ---- inference ----------------------------------------------------------------
    def _check_X(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        self._check_representable(X, "X")
        return X

    def _check_representable(self, X, name):
        if self.dtype == "float32" and X.size and np.abs(X).max() > _FLOAT32_SAFE:
            raise ValueError(
                f"{name} holds values up to {np.abs(X).max():.3g}, too large for "
                "float32 arithmetic; rescale it (e.g. StandardScaler) or use "
                "dtype='float64'."
            )

    def _batched(self, X, fn):
        """Apply ``fn`` to bounded chunks of rows of a validated ``X``."""
        module = self.module_
        p = next(module.parameters())
        outs = []
        with torch.no_grad():
            for start in range(0, X.shape[0], PREDICT_BATCH_ROWS):
                chunk = torch.tensor(
                    X[start : start + PREDICT_BATCH_ROWS], dtype=p.dtype, device=p.device
                )
                out = fn(chunk)
                if not torch.isfinite(out).all():
                    raise ValueError(
                        "The network's output overflowed (non-finite values) on these "
                        "inputs; they are far outside the training data's scale."
                    )
                outs.append(out.to("cpu", torch.float64).numpy())
        return np.concatenate(outs, axis=0)

    def _forward(self, X):
        return self._batched(self._check_X(X), self.module_)

    def _bottleneck_codes(self, X):
        X = self._check_X(X)
        layer = self.bottleneck_layer_
        comps = torch.as_tensor(self.bottleneck_components_)
        mean = torch.as_tensor(self.bottleneck_mean_)

        def codes(chunk):
            a = self.module_.forward_to(chunk, layer).to("cpu", torch.float64)
            return (a - mean) @ comps.T

        return self._batched(X, codes)

    def _decode_codes(self, Z):
        """Map bottleneck coordinates back through the layers after the bottleneck."""
        check_is_fitted(self)
        Z = check_array(Z, dtype=[np.float64, np.float32])
        k = self.bottleneck_components_.shape[0]
        if Z.shape[1] != k:
            raise ValueError(
                f"Codes have {Z.shape[1]} columns but the bottleneck has {k} "
                "coordinates (transform's output)."
            )
        p = next(self.module_.parameters())
        comps = torch.as_tensor(self.bottleneck_components_, dtype=p.dtype, device=p.device)
        mean = torch.as_tensor(self.bottleneck_mean_, dtype=p.dtype, device=p.device)
        layer = self.bottleneck_layer_

        def decode(chunk):
            return self.module_.forward_from(chunk @ comps + mean, layer)

        return self._batched(Z, decode)

    # ---- pickling --------------------------------------------------------------
    def __getstate__(self):
        # The network travels on the CPU so that a model trained on a GPU unpickles
        # on a machine without one; __setstate__ moves it back when it can.
        state = super().__getstate__()
        module = state.get("module_")
        if module is not None and next(module.parameters()).device.type != "cpu":
            state = dict(state)
            state["module_"] = copy.deepcopy(module).to("cpu")
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        module = getattr(self, "module_", None)
        device = getattr(self, "device_", "cpu")
        if module is None:
            return
        if str(device).startswith("cuda") and not torch.cuda.is_available():
            warnings.warn(
                f"This model was trained on {device!r} but CUDA is not available "
                "here; it was loaded on the CPU.",
                UserWarning,
                stacklevel=2,
            )
            self.device_ = "cpu"
        self.module_ = module.to(self.device_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


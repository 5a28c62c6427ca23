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
from ._scaling import IsotropicScaling

_DTYPES = {"float32": torch.float32, "float64": torch.float64}
_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")

#: Rows per forward pass at predict time: memory stays bounded on huge inputs.
PREDICT_BATCH_ROWS = 65536
#: Inputs beyond this magnitude overflow float32 within a few layers.
_FLOAT32_SAFE = 1e15


def resolve_device(device):
    """Turn the ``device`` parameter into a ``torch.device``, with a clear error.

    Every device is checked against what this torch build and machine offer, here
    rather than at the first tensor operation, whose error names no parameter.
    """
    n_cuda = torch.cuda.device_count() if torch.cuda.is_available() else 0
    mps = getattr(torch.backends, "mps", None)
    has_mps = mps is not None and mps.is_available()
    supported = ["'auto'", "'cpu'"]
    if n_cuda:
        supported += ["'cuda'"] + [f"'cuda:{i}'" for i in range(n_cuda)]
    if has_mps:
        supported.append("'mps'")
    if not isinstance(device, str) or not _DEVICE_RE.match(device):
        problem = "is not a device name"
    elif device.startswith("cuda") and not n_cuda:
        problem = "was requested but CUDA is not available"
    elif device.startswith("cuda") and int(device.partition(":")[2] or 0) >= n_cuda:
        problem = f"was requested but there are only {n_cuda} CUDA device(s)"
    elif device == "mps" and not has_mps:
        problem = "was requested but MPS (Apple GPU) is not available"
    else:
        problem = None
    if problem:
        raise ValueError(f"device={device!r} {problem}; this torch build on this "
                         f"machine supports {', '.join(supported)}.")
    if device == "auto":
        return torch.device("cuda" if n_cuda else "cpu")
    return torch.device(device)


class AmbiguousRankWarning(UserWarning):
    """A rank was read where the spectrum shows no clear gap, or the network does
    not factor through the rank it read: the number moves with ``rank_tol``."""


#: Below this fidelity the network passed through its bottleneck coordinates no
#: longer reproduces the network (a tenth of its variance lost): the cut
#: directions still matter and the reading understates the rank.
MIN_FIDELITY = 0.9


def _warn_if_unclear(report, tol):
    bn = report.bottleneck
    if bn.reading is not None and not bn.reading.clear:
        warnings.warn(
            f"The bottleneck spectrum has no clear gap (largest ratio "
            f"{bn.reading.gap:.2g} < rank_gap): bottleneck_rank_={bn.rank} counts the "
            f"values above rank_tol={tol} and changes with it. Train longer, raise "
            "alpha or depth, or read est.diagnose(X, rank_tol=...).",
            AmbiguousRankWarning, stacklevel=4)
    elif np.isfinite(report.fidelity) and report.fidelity < MIN_FIDELITY:
        warnings.warn(
            f"The network passed through its {bn.rank} bottleneck coordinates keeps "
            f"only {report.fidelity:.0%} of its output variance: the directions the "
            "rank reading cut still matter, so bottleneck_rank_ understates what the "
            "network computes.", AmbiguousRankWarning, stacklevel=4)


class _RankTracker:
    """Records the bottleneck rank during training (``track_rank_every`` > 0).

    Times exclude the tracking itself, so they read as training time to a rank.
    """

    def __init__(self, X, every, tol, n_samples, rng, include_bias, min_gap):
        self.include_bias = include_bias
        self.every = every
        self.tol = tol
        self.min_gap = min_gap
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
        bn = _diag.bottleneck(module, self.X, tol=self.tol, min_gap=self.min_gap)
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
        "rank_gap": [Interval(Real, 1, None, closed="left")],
        "n_diagnostic_samples": [Interval(Integral, 1, None, closed="left")],
        "n_jacobian_points": [Interval(Integral, 0, None, closed="left")],
        "track_rank_every": [Interval(Integral, 0, None, closed="left")],
        "normalize": ["boolean"],
        "dtype": [StrOptions({"float32", "float64"})],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    #: What the targets are: 'real' values (rescaled like any data), class
    #: 'labels' (never rescaled) or the 'inputs' themselves (the inputs' scaling).
    _target_kind = "real"

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
        Y = self._encode_targets(y, fitting=True)
        X, Y = self._normalize_fit_data(X, Y)
        self._check_representable(X, "X")
        if self._target_kind == "real":
            self._check_representable(Y, "y")
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
                               self.n_diagnostic_samples, rng, self._bias_in_norm(),
                               self.rank_gap)
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
        # Ctrl-C: the model above is complete and usable; callers (a search, a
        # sweep) must still stop
        result.raise_if_interrupted()
        return self

    def _target_dtype(self, dtype):
        return dtype

    def _normalize_fit_data(self, X, Y):
        """Center and scale ``X`` and ``Y`` isotropically (see ``skrank._scaling``).

        Stores ``input_mean_``, ``input_scale_``, ``target_mean_`` and
        ``target_scale_``; class codes are never rescaled and a reconstruction
        target takes the inputs' scaling.
        """
        sx = IsotropicScaling.fit(X) if self.normalize else \
            IsotropicScaling.identity(X.shape[1])
        if self._target_kind == "inputs":
            sy = sx
        elif self._target_kind == "real" and self.normalize:
            sy = IsotropicScaling.fit(Y)
        else:
            sy = IsotropicScaling.identity(Y.shape[1])
        self.input_mean_, self.input_scale_ = sx.mean, sx.scale
        self.target_mean_, self.target_scale_ = sy.mean, sy.scale
        Yn = Y if self._target_kind == "labels" else sy.forward(Y)
        return np.ascontiguousarray(sx.forward(X)), np.ascontiguousarray(Yn)

    def _scale_inputs(self, X):
        return (np.asarray(X, dtype=np.float64) - self.input_mean_) / self.input_scale_

    def _unscale_outputs(self, out):
        """Network outputs back in the targets' units (logits stay as they are)."""
        if self._target_kind == "labels":
            return out
        return out * self.target_scale_ + self.target_mean_

    def _n_network_outputs(self, Y):
        return Y.shape[1]

    def _training_pairs(self, X, Y, rng):
        """The (input, target) pairs the engine trains on; diagnostics use ``X``."""
        return X, Y

    def _bias_in_norm(self):
        """``parameter_norm_`` counts what the penalty counts."""
        return bool(getattr(self, "penalize_bias", False))

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
        frac = self.validation_fraction
        n_val = int(round(frac * X.shape[0]))
        if n_val < 1 or X.shape[0] - n_val < 1:
            # the least n with round(frac * n) in [1, n - 1]: start below it (each
            # split needs about half a sample's share), then step over rounding ties
            need = max(2, int(0.5 // frac), int(0.5 // (1 - frac)))
            while not 1 <= round(frac * need) <= need - 1:
                need += 1
            raise ValueError(
                f"early_stopping with validation_fraction={frac} holds out "
                f"round({frac} * n_samples) samples and needs at least one in the "
                f"validation split and one to train on, hence at least {need} samples; "
                f"got {X.shape[0]}. Pass more samples, another validation_fraction or "
                "early_stopping=False."
            )
        perm = rng.permutation(X.shape[0])
        val, tr = perm[:n_val], perm[n_val:]
        return X[tr], Y[tr], X[val], Y[val]

    # ---- diagnostics ------------------------------------------------------------
    def _compute_diagnostics(self, X, rng):
        """Copy :func:`skrank.diagnostics.diagnose`'s report to fitted attributes."""
        if X.shape[0] > self.n_diagnostic_samples:
            X = X[rng.choice(X.shape[0], self.n_diagnostic_samples, replace=False)]
        n_jac = min(self.n_jacobian_points, X.shape[0])
        points = X[rng.choice(X.shape[0], n_jac, replace=False)] if n_jac else None
        report = _diag.diagnose(self.module_, X, jacobian_points=points,
                                tol=self.rank_tol, min_gap=self.rank_gap,
                                include_bias=self._bias_in_norm())
        bn = report.bottleneck
        self.layer_spectra_ = report.layer_spectra
        self.representation_spectra_ = report.representation_spectra
        self.layer_ranks_ = bn.weight_ranks
        self.bottleneck_rank_ = bn.rank
        self.bottleneck_layer_ = bn.layer
        self.bottleneck_mean_ = bn.mean
        self.bottleneck_gap_ = bn.reading.gap
        self.bottleneck_fidelity_ = report.fidelity
        self.bottleneck_components_ = self._code_components(bn, X)
        self.jacobian_spectra_ = report.jacobian_spectra
        self.jacobian_rank_ = report.jacobian_rank
        self.parameter_norm_ = report.parameter_norm
        # with penalized biases the constant offset takes a weight direction per
        # layer (projected out); with free biases the biases carry it, and every
        # weight direction is part of the function
        spectra = report.offset_free_spectra if self._bias_in_norm() \
            else report.layer_spectra
        self.offset_free_norm_ = float(sum(np.sum(sp ** 2) for sp in spectra))
        self.norm_per_depth_ = self.parameter_norm_ / self.depth
        self.nonlinearity_impact_ = report.nonlinearity_impact
        self.regularity_ = self.parameter_norm_ - self.depth * self.bottleneck_rank_
        self._more_diagnostics(report)
        _warn_if_unclear(report, self.rank_tol)

    def _code_components(self, bn, X):
        """The principal directions :meth:`transform` projects on (``bn``'s own)."""
        return bn.components

    def _more_diagnostics(self, report):
        """Estimator-specific attributes from the report (never overwrites the rest)."""

    def diagnose(self, X, *, rank_tol=None, rank_gap=None):
        """Re-read the fitted network over ``X`` at other rank settings, without refitting.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs over which to measure (e.g. the training inputs); at most
            ``n_diagnostic_samples`` rows are used.
        rank_tol, rank_gap : float or None
            The rank rule's floor and gap; ``None`` keeps the estimator's.

        Returns
        -------
        report : skrank.diagnostics.Report
            Spectra, ranks with their evidence, Jacobians and norm; the fitted
            attributes are left as they are.
        """
        X = self._check_X(X)
        rng = check_random_state(self.random_state)
        if X.shape[0] > self.n_diagnostic_samples:
            X = X[rng.choice(X.shape[0], self.n_diagnostic_samples, replace=False)]
        n_jac = min(self.n_jacobian_points, X.shape[0])
        points = X[rng.choice(X.shape[0], n_jac, replace=False)] if n_jac else None
        return _diag.diagnose(
            self.module_, X, jacobian_points=points,
            tol=self.rank_tol if rank_tol is None else rank_tol,
            min_gap=self.rank_gap if rank_gap is None else rank_gap,
            include_bias=self._bias_in_norm())

    # ---- inference ----------------------------------------------------------------
    def _check_X(self, X):
        """Validated inputs in the network's (normalized) units."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        X = self._scale_inputs(X)
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
        return self._unscale_outputs(self._batched(self._check_X(X), self.module_))

    def _bottleneck_codes(self, X):
        X = self._check_X(X)
        layer = self.bottleneck_layer_
        comps = torch.as_tensor(self.bottleneck_components_)
        mean = torch.as_tensor(self.bottleneck_mean_)

        def codes(chunk):
            a = self.module_.bottleneck_in(chunk, layer).to("cpu", torch.float64)
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
            return self.module_.bottleneck_out(chunk @ comps + mean, layer)

        return self._unscale_outputs(self._batched(Z, decode))

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


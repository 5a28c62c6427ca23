"""What an estimator learns: targets, loss, validation score and output count.

A task is a small object that an estimator composes with a network; the engine only
sees its ``loss`` and ``score``. Each task is one of three kinds of target, which
decides how normalization treats it (:mod:`skrank._scaling`):

* ``'real'`` values, rescaled like any data (regression);
* class ``'labels'``, never rescaled (classification);
* the ``'inputs'`` themselves, which take the inputs' scaling (reconstruction).

``encode(y)`` is pure: it returns the network's targets and the fitted attributes
they imply (``n_outputs_``, ``classes_``), which the estimator sets.
"""

import numpy as np
import torch
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._missing import is_pandas_na, is_scalar_nan
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d
from torch.nn import functional as F

__all__ = ["Regression", "Classification", "Reconstruction", "has_missing_labels", "r2_score"]


def r2_score(output, target, weight=None, pooled=False):
    """Coefficient of determination as a tensor, averaged over output columns (or
    ``pooled``: one ratio over all entries); with ``weight``, each row counts
    ``weight_i`` times. It scores held-out rows during training, in float64.

    A held-out target without spread (every row one value, up to the rounding of
    the targets' dtype at the unit scale of normalized targets) has no variance to
    compare the error with: it is scored against unit variance per column, ``1 -
    mean squared error``, the scale of the normalized targets the network fits.
    scikit-learn's 0-or-1 would tie every iteration that does not fit it exactly,
    and early stopping would keep the first (measured: a constant target predicted
    0.8% off); its exact test ``ss_tot > 0`` read the rounding of the mean as
    spread (scores of -1e12 on a nearly constant float32 column, -1e31 on a column
    constant up to float64 rounding beside a varying one).
    """
    eps = torch.finfo(target.dtype).eps if target.is_floating_point() \
        else torch.finfo(torch.float64).eps
    output, target = output.to(torch.float64), target.to(torch.float64)
    w = None if weight is None else weight.to(torch.float64)
    w = torch.full_like(target[:, 0], 1.0 / len(target)) if w is None else w / w.sum()
    dims = (0, 1) if pooled else (0,)
    mean = (w[:, None] * target).sum(0, keepdim=True)  # per column, pooled or not
    err = (w[:, None] * (target - output) ** 2).sum(dims)
    spread = (w[:, None] * (target - mean) ** 2).sum(dims)
    scale = target.abs().amax(dims).clamp(min=1.0)
    flat = spread <= (64 * eps * scale) ** 2
    unit = torch.full_like(spread, target.shape[1] if pooled else 1.0)
    return (1 - err / torch.where(flat, unit, spread)).mean()


def _squared_error(output, target, weight, per_entry):
    """Mean squared error per sample (summed over outputs) or per entry; with
    ``weight``, each sample counts ``weight_i / mean(weight)`` times."""
    if weight is None:
        # one fused kernel for the sum of squares
        total = F.mse_loss(output, target, reduction="sum")
        return total / (output.numel() if per_entry else output.shape[0])
    rows = (output - target).square().sum(1)
    total = (weight * rows).sum() / weight.sum()
    return total / output.shape[1] if per_entry else total


class Regression:
    """``(1/N) sum_i ||f(x_i) - y_i||^2`` (the papers' loss, summed over outputs)."""

    kind = "real"

    def encode(self, y):
        y = np.asarray(y, dtype=np.float64)
        attrs = {"n_outputs_": 1 if y.ndim == 1 else y.shape[1], "_y_ndim": y.ndim}
        return y.reshape(y.shape[0], -1), attrs

    def n_outputs(self, Y, attrs):
        """The network's output count, from the encoded targets and their attributes."""
        return Y.shape[1]

    def target_dtype(self, dtype):
        return dtype

    def loss(self, output, target, weight=None):
        return _squared_error(output, target, weight, per_entry=False)

    def score(self, output, target, weight=None):
        return r2_score(output, target, weight)

    def auto_holds_out(self, Y, n_outputs, n_val):
        """``early_stopping='auto'``: with one output, where the penalty only
        chooses between rank 0 and 1 (see ``_DeepL2Base._stops_early``)."""
        return n_outputs == 1

    def auto_trains_random(self, n_outputs):
        """``init='auto'``: whether the random start is trained beside the grown
        one. Not with one output: the data term is then too weak against the
        penalty for a random deep start, whose fit ends above the zero network's
        objective and loses (``skrank._grow``); measured, the grown fit was kept in
        57 folds of 57 on 15 single-output data sets (3- and 5-fold CV), so
        training both took 1.0 to 2.8 times the grown fit's time (1.7 in all) for
        nothing."""
        return n_outputs > 1


class Reconstruction(Regression):
    """``(1/(N d)) sum_i ||f(x_i) - x_i||^2``: the error per feature, so that one
    ``alpha`` means the same trade-off whatever the number of features."""

    kind = "inputs"

    def encode(self, y):
        return np.asarray(y), {}

    def loss(self, output, target, weight=None):
        return _squared_error(output, target, weight, per_entry=True)

    def score(self, output, target, weight=None):
        # pooled over the features, as BottleneckAutoencoder.score is: a feature
        # of small variance does not weigh as much as one carrying the data
        return r2_score(output, target, weight, pooled=True)

    def auto_holds_out(self, Y, n_outputs, n_val):
        return False  # the autoencoder has no 'auto': its held-out rows calibrate

    def auto_trains_random(self, n_outputs):
        # the autoencoder's 'auto' is its own rule (random first, grown when that
        # fit ends above the bars), measured on reconstruction, one feature too
        return True


def has_missing_labels(y):
    """Whether the labels ``y`` hold NaN or None (no class to learn or to predict)."""
    y = np.asarray(y)
    if y.dtype.kind == "f":
        return bool(np.isnan(y).any())
    if y.dtype.kind == "O":
        return any(v is None or is_scalar_nan(v) or is_pandas_na(v) for v in y.ravel())
    return False


class Classification:
    """Cross-entropy on the logits of ``n_classes`` outputs; accuracy as score."""

    kind = "labels"

    def encode(self, y, classes=None):
        """Codes of ``y``; with ``classes`` (``partial_fit``), codes among those."""
        y = column_or_1d(y, warn=True)
        if classes is not None and np.ndim(classes) != 1:
            # LabelEncoder's own check names y, which was fine
            raise ValueError("classes must be a 1-D array of labels; got an array of "
                             f"shape {np.shape(classes)}.")
        if classes is not None and has_missing_labels(classes):
            raise ValueError("classes contains NaN or None; every class needs a label.")
        try:
            # before scikit-learn's check, which reads 1 and 'a' as "Unknown label
            # type: unknown" and suggests continuous values
            np.unique(y if classes is None else np.asarray(classes, dtype=object))
        except TypeError as exc:
            # numpy's "'<' not supported between 'int' and 'str'" names no argument
            raise TypeError("The labels mix types that cannot be ordered (such as "
                            "strings and numbers); give every label the same type."
                            ) from exc
        # its own messages are clear past that point (bytes labels, for one)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y if classes is None else classes)
        unseen = np.setdiff1d(y, encoder.classes_)
        if unseen.size:
            raise ValueError(f"y holds labels {unseen.tolist()} not among the classes "
                             f"{encoder.classes_.tolist()}.")
        if len(encoder.classes_) < 2:
            raise ValueError(
                "DeepL2Classifier needs samples of at least 2 classes; got only one "
                f"class: {encoder.classes_[:1].tolist()[0]!r}."
            )
        attrs = {"classes_": encoder.classes_, "n_outputs_": len(encoder.classes_)}
        return encoder.transform(y).reshape(-1, 1), attrs

    def n_outputs(self, Y, attrs):
        return attrs["n_outputs_"]  # every class, even one absent from these rows

    def target_dtype(self, dtype):
        return torch.long

    def loss(self, output, target, weight=None):
        if weight is None:
            return F.cross_entropy(output, target.reshape(-1))
        each = F.cross_entropy(output, target.reshape(-1), reduction="none")
        return (weight * each).sum() / weight.sum()

    def score(self, output, target, weight=None):
        right = (output.argmax(1) == target.reshape(-1)).to(torch.float64)
        if weight is None:
            return right.mean()
        weight = weight.to(torch.float64)
        return (weight * right).sum() / weight.sum()

    def auto_trains_random(self, n_outputs):
        """``init='auto'``: never beside the grown start. Cross-entropy is a
        weak data term too; where the random fit reached the lower objective it
        had memorized more (measured, 3-fold CV: 9 points of test accuracy lost on
        a 20-feature, 3-class ``make_classification``, 1 gained on wine)."""
        return False

    def auto_holds_out(self, Y, n_outputs, n_val):
        """``early_stopping='auto'``: whenever the split can be stratified (see
        ``_DeepL2Base._stops_early``): a random split could hold out a class's
        only row, which the network then never learns; and when the stratified
        split's share of every class keeps a training row (its rounding can leave a
        rare class none, and a fit needs two classes)."""
        _, counts = np.unique(Y, return_counts=True)
        return (self.stratifiable(Y, n_val)
                and int(counts.min()) * (len(Y) - n_val) >= len(Y))

    @staticmethod
    def stratifiable(Y, n_val):
        """Whether ``n_val`` held-out rows of the codes ``Y`` can hold every class
        and leave every class in training: two rows of each at least."""
        _, counts = np.unique(Y, return_counts=True)
        return bool(counts.min() >= 2 and len(counts) <= n_val <= len(Y) - len(counts))

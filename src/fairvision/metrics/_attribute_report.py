"""One audit of a multi-label attribute classifier under a threshold policy (Iofinova et al., CVPR 2023).

Policies:

* ``default`` -- ``ŷ = z > 0``;
* ``recalibrated`` -- one threshold per attribute from the validation logits
  (:func:`~fairvision.metrics.recalibrate_thresholds`);
* ``recalibrated_per_group`` -- for each protected attribute g, one threshold
  per attribute and group of g, computed on that group's validation samples
  and applied to each evaluated sample by its own group.  Every protected
  attribute then has its own predictions, so the thresholded per-attribute
  metrics (accuracy, positive rate, interdependence, rare-value ratio) are
  reported per protected attribute.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fairvision.errors import show_value
from fairvision.metrics._attributes import (
    ATTRIBUTE_COLUMNS,
    GAP_COLUMNS,
    attribute_frame,
    attribute_names,
    ba_rows,
    gap_rows,
    kth_largest_thresholds,
    label_matrix,
    logit_matrix,
    logit_metrics,
    prediction_metrics,
    protected_indices,
)

__all__ = ["POLICIES", "SUMMARY_COLUMNS", "AttributeBiasReport", "attribute_bias_report"]

#: Threshold policies of :func:`attribute_bias_report`.
POLICIES = ("default", "recalibrated", "recalibrated_per_group")
#: Columns of :meth:`AttributeBiasReport.summary` (per-group policies add threshold_0 and threshold_1).
SUMMARY_COLUMNS = (
    "attribute", "protected", "threshold", "accuracy", "auc", "positive_rate", "fpr_gap", "fnr_gap",
    "bias_amplification", "uncertainty", "ece", "interdependence_r2", "rare_value_ratio",
)
GROUPS = (0, 1)


def _value(x) -> float | None:
    """A float for a dict, None for NaN (JSON null)."""
    x = float(x)
    return None if math.isnan(x) else x


@dataclass(frozen=True, eq=False)
class AttributeBiasReport:
    """Metrics of one set of logits under one threshold policy.

    * ``attributes`` -- per-attribute metrics (:data:`ATTRIBUTE_COLUMNS`),
      index ``attribute``; for ``recalibrated_per_group`` index
      ``(protected, attribute)``, the thresholded metrics computed with that
      protected attribute's per-group thresholds.
    * ``bias`` -- one row per (protected, attribute != protected): protected,
      attribute, bias_amplification, skip_reason, fpr_0, fpr_1, fnr_0, fnr_1,
      fpr_gap, fnr_gap.
    * ``thresholds`` -- index ``attribute``: column ``threshold``, or for
      ``recalibrated_per_group`` columns ``(protected, group)`` with group 0, 1.
    """

    policy: str
    protected: tuple[str, ...]
    attributes: pd.DataFrame
    bias: pd.DataFrame
    thresholds: pd.DataFrame

    @property
    def per_group(self) -> bool:
        return self.policy == "recalibrated_per_group"

    def _attribute_table(self, protected: str) -> pd.DataFrame:
        return self.attributes.loc[protected] if self.per_group else self.attributes

    def summary(self) -> pd.DataFrame:
        """One row per (attribute, protected): :data:`SUMMARY_COLUMNS`.

        Per-attribute values repeat across protected attributes (except under
        ``recalibrated_per_group``); bias amplification and gaps are NaN where
        attribute = protected.  Under ``recalibrated_per_group`` ``threshold``
        is NaN and ``threshold_0`` / ``threshold_1`` hold the two groups'.
        """
        frames = []
        for g in self.protected:
            table = self._attribute_table(g)
            names = table.index
            frame = pd.DataFrame({"attribute": names, "protected": g})
            if self.per_group:
                frame["threshold"] = np.nan
            else:
                frame["threshold"] = self.thresholds["threshold"].reindex(names).to_numpy()
            bias = self.bias[self.bias["protected"] == g].set_index("attribute").reindex(names)
            for col in ATTRIBUTE_COLUMNS:
                frame[col] = table[col].to_numpy()
            for col in ("fpr_gap", "fnr_gap", "bias_amplification"):
                frame[col] = bias[col].to_numpy(dtype=np.float64)
            if self.per_group:
                for v in GROUPS:
                    frame[f"threshold_{v}"] = self.thresholds[(g, v)].reindex(names).to_numpy()
            extra = [f"threshold_{v}" for v in GROUPS] if self.per_group else []
            frames.append(frame[list(SUMMARY_COLUMNS) + extra])
        return pd.concat(frames, ignore_index=True)

    def to_dict(self) -> dict:
        """Plain dict (NaN -> None): attributes, bias_amplification, fpr_gap, fnr_gap, thresholds.

        ``attributes`` maps each attribute to its metrics; ``bias_amplification``,
        ``fpr_gap`` and ``fnr_gap`` map protected -> attribute -> value;
        ``thresholds`` maps attribute -> threshold (None = +inf: no positive
        validation label).  Under ``recalibrated_per_group`` ``attributes`` is
        nested protected -> attribute -> metrics and ``thresholds`` protected ->
        attribute -> {"0": t, "1": t}.
        """

        def metrics(table: pd.DataFrame) -> dict:
            return {a: {c: _value(row[c]) for c in ATTRIBUTE_COLUMNS} for a, row in table.iterrows()}

        def by_protected(column: str) -> dict:
            return {g: {a: _value(v) for a, v in zip(rows["attribute"], rows[column])}
                    for g, rows in ((g, self.bias[self.bias["protected"] == g]) for g in self.protected)}

        def threshold(x) -> float | None:
            return float(x) if math.isfinite(float(x)) else None

        if self.per_group:
            attributes = {g: metrics(self._attribute_table(g)) for g in self.protected}
            thresholds = {g: {a: {str(v): threshold(self.thresholds.loc[a, (g, v)]) for v in GROUPS}
                              for a in self.thresholds.index} for g in self.protected}
        else:
            attributes = metrics(self.attributes)
            thresholds = {a: threshold(t) for a, t in self.thresholds["threshold"].items()}
        return {
            "attributes": attributes,
            "bias_amplification": by_protected("bias_amplification"),
            "fpr_gap": by_protected("fpr_gap"),
            "fnr_gap": by_protected("fnr_gap"),
            "thresholds": thresholds,
        }


def _bias_frame(pred, labels, train, g, names, min_positives, min_relative_difference) -> pd.DataFrame:
    """BA and gaps of the predicted attributes (the first ``pred.shape[1]`` of ``names``) w.r.t. column g of
    ``labels``/``train``, whose further columns are unpredicted protected attributes (group labels)."""
    n_targets = pred.shape[1]
    if labels.shape[1] > n_targets:  # group labels: their "predictions" are never used, their rows dropped
        pred = np.hstack([pred, np.zeros((len(pred), labels.shape[1] - n_targets), dtype=bool)])
    ba = ba_rows(pred, labels, train, g, names, min_positives=min_positives,
                 min_relative_difference=min_relative_difference)
    gaps = gap_rows(pred, labels, g, names)
    out = ba.merge(gaps, on=["protected", "attribute"], how="left", validate="one_to_one")
    if len(names) > n_targets:
        out = out[out["attribute"].isin(names[:n_targets])].reset_index(drop=True)
    return out


def _group_matrix(values, name: str, rows: int, columns: list[str] | None = None) -> tuple[list[str], np.ndarray]:
    """Names and boolean (rows, K) matrix of group labels (a DataFrame or a mapping name -> 0/1 values)."""
    if values is None:
        if columns:
            raise ValueError(f"group_labels needs {name} too (columns {', '.join(columns)})")
        return [], np.zeros((rows, 0), dtype=bool)
    frame = values if isinstance(values, pd.DataFrame) else pd.DataFrame({k: np.asarray(v) for k, v in values.items()})
    names = [str(c) for c in frame.columns]
    if columns is not None and names != columns:
        raise ValueError(f"{name} has columns {names}, expected those of group_labels {columns}")
    if not names:
        return [], np.zeros((rows, 0), dtype=bool)
    return names, label_matrix(frame.to_numpy(), name, shape=(rows, len(names)))


def attribute_bias_report(
    test_logits,
    test_labels,
    *,
    attributes: Sequence[str],
    train_labels,
    protected: Sequence[str] | str | None = None,
    policy: str = "default",
    val_logits=None,
    val_labels=None,
    min_positives: int = 10,
    min_relative_difference: float = 0.1,
    group_labels=None,
    train_group_labels=None,
    val_group_labels=None,
) -> AttributeBiasReport:
    """Every attribute metric, bias amplification and error-rate gap of ``test_logits`` under ``policy``.

    ``train_labels`` give the training rates (rare-value ratio, P(a | g));
    ``protected`` defaults to :data:`DEFAULT_PROTECTED` present among
    ``attributes``.  The recalibrated policies need ``val_logits`` and
    ``val_labels`` (same attributes).  See the module docstring for the policies.

    Protected attributes the model does not predict (e.g. a backdoor trigger
    column, :mod:`fairvision.data.trigger`) come as ``group_labels``: a
    DataFrame or mapping name -> 0/1 value per test sample; ``protected`` may
    then name them. They need the training samples' values
    (``train_group_labels``, same columns: P(a | g)) and, for
    ``recalibrated_per_group``, the validation samples' (``val_group_labels``).
    They are never scored as attributes.
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}, not {policy!r}")
    z = logit_matrix(test_logits, "test_logits")
    y = label_matrix(test_labels, "test_labels", shape=z.shape)
    names = attribute_names(attributes, z.shape[1])
    train = label_matrix(train_labels, "train_labels", shape=(None, z.shape[1]))
    extra, y_extra = _group_matrix(group_labels, "group_labels", len(z))
    clash = [n for n in extra if n in names]
    if clash:
        raise ValueError(f"group_labels column {show_value(clash[0])} is also a predicted attribute")
    all_names = names + extra  # group labels' columns follow the attributes' in y_all, train_all, yv_all
    groups = protected_indices(protected, all_names)
    if policy != "default":
        if val_logits is None or val_labels is None:
            raise ValueError(f"policy {policy!r} needs val_logits and val_labels (thresholds come from validation)")
        zv = logit_matrix(val_logits, "val_logits", shape=(None, z.shape[1]))
        yv = label_matrix(val_labels, "val_labels", shape=zv.shape)
    y_all, train_all, yv_all = y, train, (yv if policy == "recalibrated_per_group" else None)
    if extra:
        y_all = np.hstack([y, y_extra])
        train_all = np.hstack([train, _group_matrix(train_group_labels, "train_group_labels", len(train), extra)[1]])
        if yv_all is not None:
            yv_all = np.hstack([yv, _group_matrix(val_group_labels, "val_group_labels", len(zv), extra)[1]])
    rates = train.mean(axis=0)
    fixed = logit_metrics(z, y)
    options = (min_positives, min_relative_difference)
    index = pd.Index(names, name="attribute")
    if policy in ("default", "recalibrated"):
        t = np.zeros(len(names)) if policy == "default" else kth_largest_thresholds(zv, yv)
        pred = z > t
        table = attribute_frame(names, {**fixed, **prediction_metrics(pred, y, rates)})
        bias = pd.concat([_bias_frame(pred, y_all, train_all, g, all_names, *options) for g in groups],
                         ignore_index=True)
        thresholds = pd.DataFrame({"threshold": t}, index=index)
    else:
        tables, frames, columns = {}, [], {}
        for g in groups:
            per_group = np.stack([kth_largest_thresholds(zv[yv_all[:, g] == v], yv[yv_all[:, g] == v])
                                  for v in GROUPS])
            pred = z > per_group[y_all[:, g].astype(np.intp)]
            tables[all_names[g]] = attribute_frame(names, {**fixed, **prediction_metrics(pred, y, rates)})
            frames.append(_bias_frame(pred, y_all, train_all, g, all_names, *options))
            columns.update({(all_names[g], v): per_group[v] for v in GROUPS})
        table = pd.concat(tables, names=["protected", "attribute"])
        bias = pd.concat(frames, ignore_index=True)
        thresholds = pd.DataFrame(columns, index=index)
        thresholds.columns = pd.MultiIndex.from_tuples(list(columns), names=["protected", "group"])
    bias = bias[["protected", "attribute", "bias_amplification", "skip_reason", *GAP_COLUMNS]]
    return AttributeBiasReport(policy=policy, protected=tuple(all_names[g] for g in groups), attributes=table,
                               bias=bias, thresholds=thresholds)

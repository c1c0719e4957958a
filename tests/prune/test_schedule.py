"""Pruning schedules (one-shot, GMP) and the ``prune:`` config section."""

from __future__ import annotations

import pytest

from fairvision.config import validate_config
from fairvision.errors import ConfigError
from fairvision.prune import PruneConfig, gmp_schedule, gmp_sparsity, pruning_epochs

# The two GMP protocols of Iofinova et al. (CVPR 2023) at s_f = 0.9, s_i = 0.05, in the training loop's
# 0-based epochs: (config, epochs of the run, [(pruning epoch, cumulative sparsity), ...]).
#: From scratch: 100 epochs, prune at the start of epochs 10, 20, ..., 80, then fine-tune epochs 80..99.
FROM_SCRATCH = (
    {"method": "gmp", "sparsity": 0.9, "start": 10, "end": 90, "freq": 10},
    100,
    [(10, 0.05), (20, 0.3647), (30, 0.5902), (40, 0.7414), (50, 0.8331), (60, 0.8802), (70, 0.8975), (80, 0.9)],
)
#: Post-training (train.init_from a dense run, Adam lr 1e-4): 80 epochs, prune every 4 epochs from epoch 1
#: to epoch 57 (the last in 1..59), then fine-tune epochs 57..79.
POST_TRAINING = (
    {"method": "gmp", "sparsity": 0.9, "start": 1, "end": 60, "freq": 4},
    80,
    [(1, 0.05), (5, 0.2194), (9, 0.3647), (13, 0.4877), (17, 0.5902), (21, 0.6742), (25, 0.7414), (29, 0.7938),
     (33, 0.8331), (37, 0.8613), (41, 0.8802), (45, 0.8916), (49, 0.8975), (53, 0.8997), (57, 0.9)],
)


@pytest.mark.parametrize("protocol", [FROM_SCRATCH, POST_TRAINING], ids=["from-scratch", "post-training"])
def test_paper_schedules(protocol):
    options, epochs, table = protocol
    cfg = PruneConfig(**options)
    cfg.check_against(epochs)
    schedule = cfg.schedule()
    assert [e for e, _ in schedule] == [e for e, _ in table]
    assert [s for _, s in schedule] == pytest.approx([s for _, s in table], abs=5e-5)
    assert schedule[0][1] == 0.05 and schedule[-1][1] == 0.9  # exact end points
    assert all(a < b for (_, a), (_, b) in zip(schedule, schedule[1:]))


def test_gmp_sparsity_formula_and_clipping():
    kw = {"s_i": 0.1, "s_f": 0.8, "t0": 2, "t_end": 12}
    assert gmp_sparsity(2, **kw) == 0.1 and gmp_sparsity(12, **kw) == 0.8
    assert gmp_sparsity(7, **kw) == pytest.approx(0.8 - 0.7 * 0.5**3)
    assert gmp_sparsity(0, **kw) == 0.1 and gmp_sparsity(50, **kw) == 0.8  # clipped into [t0, t_end]
    assert gmp_sparsity(3, s_f=0.5, t0=3, t_end=3) == 0.5  # a single event prunes to s_f
    assert gmp_sparsity(0, s_f=0.5, t0=0, t_end=10) == 0.05  # s_i defaults to 0.05
    with pytest.raises(ConfigError, match="t_end"):
        gmp_sparsity(0, s_f=0.5, t0=3, t_end=2)


def test_pruning_epochs():
    assert pruning_epochs(0, 4, 1) == [0, 1, 2, 3]
    assert pruning_epochs(10, 81, 10) == pruning_epochs(10, 90, 10) == [10, 20, 30, 40, 50, 60, 70, 80]
    assert gmp_schedule(s_f=0.7, start=5, end=6, freq=3) == [(5, 0.7)]
    with pytest.raises(ConfigError, match="prune.freq: must be >= 1"):
        pruning_epochs(0, 4, 0)
    with pytest.raises(ConfigError, match="prune.end: must be greater than prune.start"):
        pruning_epochs(4, 4, 1)


def test_oneshot_and_none():
    assert PruneConfig().schedule() == [] and not PruneConfig().enabled
    assert PruneConfig(method="oneshot", sparsity=0.6).schedule() == [(0, 0.6)]
    assert PruneConfig(method="oneshot", sparsity=0.6, oneshot_epoch=3).schedule() == [(3, 0.6)]
    PruneConfig(method="oneshot", sparsity=0.6, oneshot_epoch=3).check_against(4)
    with pytest.raises(ConfigError, match=r"prune.oneshot_epoch: the last pruning epoch \(4\) is not within the run's 4"):
        PruneConfig(method="oneshot", sparsity=0.6, oneshot_epoch=4).check_against(4)


def test_defaults_and_canonical_scope():
    cfg = PruneConfig(method="gmp", sparsity=0.5, end=3, scope="Layer-Wise")
    assert (cfg.scope, cfg.initial_sparsity, cfg.start, cfg.freq, cfg.exclude_first_last, cfg.oneshot_epoch) == (
        "layerwise", 0.05, 0, 1, False, 0)


@pytest.mark.parametrize("options, message", [
    ({"method": "gmp", "sparsity": 0.9}, "prune: end: required for method gmp"),
    ({"method": "gmp", "sparsity": 0.9, "start": 5, "end": 5}, r"prune: end: must be greater than start \(5 <= 5\)"),
    ({"method": "gmp", "sparsity": 0.9, "end": 5, "freq": 0}, "prune: freq: must be >= 1"),
    ({"method": "gmp", "sparsity": 0.01, "end": 5}, "prune: initial_sparsity: must not exceed sparsity"),
    ({"method": "oneshot", "sparsity": 1.0}, r"prune: sparsity: must be < 1.0 \(got 1.0\)"),
    ({"method": "oneshot", "sparsity": -0.1}, "prune: sparsity: must be >= 0"),
    ({"method": "magnitude"}, "prune: method: must be one of 'none', 'oneshot' or 'gmp'"),
    ({"scope": "globl"}, "prune: scope: unknown pruning scope 'globl' .*did you mean 'global'"),
    ({"sparsty": 0.5}, "prune: sparsty: unknown key"),
])
def test_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        PruneConfig(**options)


def test_config_validates_as_a_section():
    with pytest.raises(ConfigError, match=r"run.yaml: end: required for method gmp"):
        validate_config(PruneConfig, {"method": "gmp", "sparsity": 0.5}, source="run.yaml")


def test_gmp_beyond_the_run_is_refused():
    cfg = PruneConfig(**FROM_SCRATCH[0])
    cfg.check_against(81)  # the last event (epoch 80) is the run's last epoch
    with pytest.raises(ConfigError, match=r"prune.end: the last pruning epoch \(80\) is not within the run's 80 "
                                          r"epoch\(s\) \(0..79\), so the target sparsity 0.9 would not be reached"):
        cfg.check_against(80)

"""The demo (``fairvision demo``, ``make demo``): the known-bias benchmark from data to one HTML report."""

from fairvision.demo.pipeline import STAGES, run_demo
from fairvision.demo.profiles import BENCHMARK, MITIGATIONS, PROFILES, DemoProfile, stage_configs

__all__ = ["BENCHMARK", "MITIGATIONS", "PROFILES", "STAGES", "DemoProfile", "run_demo", "stage_configs"]

"""Reports: terminal tables and files a user can open."""

from fairvision.report.tables import fairness_tables, print_fairness

__all__ = ["fairness_tables", "print_fairness"]

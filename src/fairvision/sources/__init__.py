"""Sources of the HTML report (``fairvision report SOURCE... --out report.html``): detect what each path is --
a training run folder, a trial store (search, zoo, mitigation studies), a pruning study folder -- load it into
the report's data classes (:mod:`fairvision.report.html`) and write the report.

* :func:`build_report` -- the whole report from paths;
* :func:`detect_source` / :func:`detect_sources` -- the kind of a path (:class:`Source`);
* :func:`load_run`, :func:`load_stores`, :func:`load_prune_study` -- one kind of source each (stores and
  pruning studies need the search extra);
* :func:`group_intervals` -- per-group bootstrap intervals of identification ranks.
"""

from fairvision.sources._build import build_report
from fairvision.sources._detect import KINDS, Source, detect_source, detect_sources
from fairvision.sources._prune import load_prune_study
from fairvision.sources._run import group_intervals, load_run
from fairvision.sources._store import load_stores

__all__ = ["KINDS", "Source", "build_report", "detect_source", "detect_sources", "group_intervals",
           "load_prune_study", "load_run", "load_stores"]

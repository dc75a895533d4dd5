"""The worker side of ingest: the job each worker runs on a file (extract it, copy it
into the run's staging folder, match it against the worker's view of the registry), and
that view (``view``). The coordinating side is ``registry.ingesting``."""

from registry.intake.job import IngestJob
from registry.intake.view import FEED_FILE, View, publish

__all__ = ["FEED_FILE", "IngestJob", "View", "publish"]

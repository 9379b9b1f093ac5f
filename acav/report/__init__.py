"""The run report (``acav report``): one static, offline HTML file per data directory.

:func:`write_report` builds it from the stages' files (see :mod:`acav.report.funnel` for how the
funnel is counted) and returns a :class:`ReportSummary`.
"""

from acav.report.build import REPORT_HTML, ReportSummary, build_report, write_report
from acav.report.config import ReportConfig

__all__ = ["REPORT_HTML", "ReportConfig", "ReportSummary", "build_report", "write_report"]

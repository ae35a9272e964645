"""Where `grants.export_jobs` still imports the workbook task from; the task lives in
`grants.tasks.exports`. Remove once `grants.export_jobs._enqueue` imports it from there."""

from grants.tasks.exports import budget_report_build_task

__all__ = ["budget_report_build_task"]

"""The three names `grants.export_jobs` still imports from here; the budget reports now live in
grants.selectors.exports (rows), grants.writers (CSV, XLSX, PDF) and grants.services.exports
(the audited acts). Remove once `grants.export_jobs` imports them from there.

`export_jobs` calls `exports.xlsx_write` through this module, so a test replaces it here.
"""

from grants.services.exports import BUDGET_REPORT_ACTION, export_record
from grants.writers import xlsx_write

__all__ = ["BUDGET_REPORT_ACTION", "export_record", "xlsx_write"]

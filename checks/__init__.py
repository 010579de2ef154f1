"""Pure checks: DataFrames, settings and an explicit ``now`` in, a ``CheckResult`` out.

Nothing in this package imports Prefect, SQLAlchemy or does I/O, so the same code runs
live, in tests and in backtests over history.
"""

from checks.result import CheckResult, Status

__all__ = ["CheckResult", "Status"]

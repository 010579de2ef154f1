"""The only Prefect-aware code: monitor flows, remediation subflows and their tasks."""

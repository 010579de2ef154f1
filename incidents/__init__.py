"""Incidents: the store, the alert policy, the lifecycle, the Slack notifier and runbooks.

Imports point one way: this package uses ``checks`` and never imports Prefect.
"""

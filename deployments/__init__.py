"""Deployment definitions: the embedded ``serve`` entry point and prefect.yaml for work pools."""

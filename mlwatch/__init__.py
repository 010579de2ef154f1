"""mlwatch application shell: configuration, data sources, model registry, CLI and demo world."""

__version__ = "0.1.0"

"""The demo world: a small simulated production system writing to .mlwatch/demo.db."""

"""Network-on-chip models: route compiler, golden model, traffic patterns."""

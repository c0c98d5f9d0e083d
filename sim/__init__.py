"""Golden models, performance models and the simulation harness."""

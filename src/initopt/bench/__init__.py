"""Benchmarks that users run: ``initopt bench optim`` (optimizer step speed against PyTorch)."""

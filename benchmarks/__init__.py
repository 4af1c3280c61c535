"""Speed and memory benchmark of the pipeline (`python -m benchmarks.benchmark`)."""

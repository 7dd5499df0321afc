"""What the benchmarks, demos and tests drive the service with: a server child process, steady
keep-alive load, and prediction logs written without a service."""

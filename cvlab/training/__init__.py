"""Training: one engine, optimizer and scheduler registries, the run store, the job queue and its worker."""

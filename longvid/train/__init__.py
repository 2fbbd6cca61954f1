"""Training: config and schedules as data, one loop for local and Ray Train, checkpoints, CLI."""

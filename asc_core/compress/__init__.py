"""Channel pruning with NNI 3.0: norm pruners, linear/AGP schedules, speed-up, budgets."""

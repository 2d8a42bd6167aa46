"""Calibration targets as data, the simulations that reproduce them, and the verdicts."""

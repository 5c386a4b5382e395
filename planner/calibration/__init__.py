"""Calibration of the estimation core on measured data: files, fitting, accuracy."""

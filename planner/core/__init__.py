"""Estimation core: catalog specs -> feature arrays -> pure vectorized model -> estimates."""

"""How to run a plan: each deployment's engine launch spec, as a shell script or Kubernetes manifests.

``launch_for`` (launch.py) turns a deployment into its engine command (vLLM, SGLang, TRT-LLM) with the
plan's TP/PP, batch, token budget, precision and power limit as flags; ``render_shell`` (shell.py) and
``render_k8s`` (k8s.py) write them out. Flag names and their documentation: engines.py, docs/export.md.
"""

from planner.export.launch import launch_for

__all__ = ["launch_for"]

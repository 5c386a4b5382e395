"""Candidates: every (workload x GPU x precision x TP x PP x batch) operating point meeting the SLOs."""

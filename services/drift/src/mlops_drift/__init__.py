"""mlops_drift: Drift detection over the traffic stream with Evidently; triggers retraining."""

__version__ = "0.1.0"

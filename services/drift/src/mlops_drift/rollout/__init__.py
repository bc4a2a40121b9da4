"""The rollout controller: probation and automatic rollback of new production versions, and the
live-evidence decision on staged candidates (see :mod:`mlops_drift.rollout.controller`)."""

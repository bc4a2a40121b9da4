"""``python -m mlops_trainer`` is ``mlops-train``."""

from mlops_trainer.cli import main

raise SystemExit(main())

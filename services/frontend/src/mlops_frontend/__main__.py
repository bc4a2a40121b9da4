"""``python -m mlops_frontend``: read settings and hand the process over to ``streamlit run``."""

from __future__ import annotations

import os
import sys

from pydantic import ValidationError

from mlops_frontend.launch import streamlit_command
from mlops_frontend.settings import FrontendSettings


def main() -> None:
    """Replace this process with the Streamlit server (signals then reach it directly)."""
    try:
        settings = FrontendSettings()
    except ValidationError as exc:
        sys.exit(f"invalid frontend settings: {exc}")
    command = streamlit_command(settings)
    os.execv(command[0], command)  # nosec B606: argv from streamlit_command(): this Python -m streamlit run, no shell


if __name__ == "__main__":
    main()

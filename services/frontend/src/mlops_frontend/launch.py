"""How the Streamlit server is started: the app's path and the command line with its options.

The options live here rather than in a ``.streamlit/config.toml`` because Streamlit reads that
file from the working directory, which a packaged app cannot rely on.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

from mlops_frontend.settings import FrontendSettings

APP_PATH: Final = Path(__file__).with_name("app.py")

#: Theme and behaviour of the product (see ``streamlit config show`` for every option).
STREAMLIT_OPTIONS: Final[dict[str, str]] = {
    "server.headless": "true",
    "server.fileWatcherType": "none",
    "server.runOnSave": "false",
    "server.maxUploadSize": "10",
    "browser.gatherUsageStats": "false",
    "client.toolbarMode": "minimal",
    "client.showErrorDetails": "none",
    "theme.base": "light",
    "theme.primaryColor": "#4F46E5",
    "theme.backgroundColor": "#FFFFFF",
    "theme.secondaryBackgroundColor": "#F1F5F9",
    "theme.textColor": "#0F172A",
}


def streamlit_command(settings: FrontendSettings, python: str = sys.executable) -> list[str]:
    """The ``python -m streamlit run`` command line serving the app for ``settings``."""
    options = {
        **STREAMLIT_OPTIONS,
        "server.address": settings.host,
        "server.port": str(settings.port),
        "logger.level": settings.log_level.lower(),
    }
    flags = [f"--{name}={value}" for name, value in options.items()]
    return [python, "-m", "streamlit", "run", str(APP_PATH), *flags]

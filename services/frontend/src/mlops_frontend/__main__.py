"""``python -m mlops_frontend``: read settings and hand the process over to ``streamlit run``.

Settings that do not validate stop it with a message naming them (never their values). Among
them: a configured admin key while the page listens beyond loopback, unless the operator has
accepted that (``FRONTEND_ALLOW_NETWORK_ADMIN_KEY``), which is then logged as a warning.
"""

from __future__ import annotations

import logging
import os

from mlops_common.logs import configure_logging
from mlops_common.settings import read_settings
from mlops_frontend.launch import streamlit_command
from mlops_frontend.settings import FrontendSettings

log = logging.getLogger("mlops_frontend")


def main() -> None:
    """Replace this process with the Streamlit server (signals then reach it directly)."""
    settings = read_settings(FrontendSettings, "frontend")
    configure_logging("frontend", settings.log_level)
    if settings.admin_key_exposed:
        log.warning(
            "the configured admin key acts for anyone who reaches this page "
            "(FRONTEND_ALLOW_NETWORK_ADMIN_KEY=true)",
            extra={"host": settings.host, "port": settings.port},
        )
    command = streamlit_command(settings)
    os.execv(command[0], command)  # nosec B606: argv from streamlit_command(): this Python -m streamlit run, no shell


if __name__ == "__main__":
    main()

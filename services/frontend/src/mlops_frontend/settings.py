"""Frontend settings (env prefix ``FRONTEND_``; ``LOG_LEVEL`` shared).

The frontend talks to the gateway's REST API only (verdict, report and checks of drift too),
so the gateway's URL is the one address it needs.

The Streamlit process reads them when a page runs, so ``python -m mlops_frontend`` and a plain
``streamlit run`` of :mod:`mlops_frontend.app` see the same values::

    FRONTEND_GATEWAY_URL=http://gateway:8080 FRONTEND_ADMIN_API_KEY=... python -m mlops_frontend
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator

from mlops_common.settings import LOOPBACK, ServiceSettings, is_loopback, service_config


def _base_url(value: object) -> object:
    if not isinstance(value, str):
        return value
    url = value.strip().rstrip("/")
    if url and not url.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return url


class FrontendSettings(ServiceSettings):
    """Everything the frontend reads from its environment."""

    model_config = service_config("FRONTEND_")

    gateway_url: str = Field(
        default="http://localhost:8080", description="Base URL of the gateway's REST API."
    )
    admin_api_key: SecretStr = Field(
        default=SecretStr(""),
        description="X-API-Key for admin actions (promote, retrain); empty asks on the page. "
        "Refused with a non-loopback FRONTEND_HOST unless FRONTEND_ALLOW_NETWORK_ADMIN_KEY.",
    )
    allow_network_admin_key: bool = Field(
        default=False,
        description="Accept a configured FRONTEND_ADMIN_API_KEY while the frontend listens on "
        "the network: anyone who reaches the page can then promote, roll back and retrain "
        "(a warning is logged at start).",
    )
    host: str = Field(
        default=LOOPBACK,
        description="Address the Streamlit server binds: loopback unless opened (the image "
        "sets 0.0.0.0).",
    )
    port: int = Field(default=8501, ge=1, le=65535, description="Port of the Streamlit server.")
    connect_timeout_s: float = Field(
        default=2.0, gt=0, description="Time to open a connection to the gateway."
    )
    request_timeout_s: float = Field(
        default=10.0, gt=0, description="Time for the gateway to answer one request."
    )
    report_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="Time to build and fetch the Evidently report, or to run a drift check "
        "(above the gateway's own deadlines, so its 504 arrives first).",
    )
    max_text_chars: int = Field(
        default=20_000,
        gt=0,
        description="Most characters of one text a text model's page sends; keep it at or below "
        "the gateway's GATEWAY_MAX_TEXT_CHARS (both default to 20,000).",
    )
    job_poll_interval_s: float = Field(
        default=1.0, gt=0, description="How often the Retraining page refreshes a running job."
    )

    @field_validator("gateway_url", mode="before")
    @classmethod
    def _strip_url(cls, value: object) -> object:
        return _base_url(value)

    @field_validator("gateway_url")
    @classmethod
    def _gateway_required(cls, value: str) -> str:
        if not value:
            raise ValueError("FRONTEND_GATEWAY_URL must not be empty")
        return value

    @property
    def admin_key_exposed(self) -> bool:
        """True when a configured admin key would act for anyone who reaches the page."""
        return bool(self.admin_api_key.get_secret_value()) and not is_loopback(self.host)

    @model_validator(mode="after")
    def _no_configured_key_on_the_network(self) -> FrontendSettings:
        if self.admin_key_exposed and not self.allow_network_admin_key:
            raise ValueError(
                f"FRONTEND_ADMIN_API_KEY is set and the frontend listens on {self.host}, so "
                "anyone who reaches the page could promote, roll back and retrain with it. "
                "Unset FRONTEND_ADMIN_API_KEY (the page then asks for the key), listen on "
                "FRONTEND_HOST=127.0.0.1, or set FRONTEND_ALLOW_NETWORK_ADMIN_KEY=true to "
                "accept that"
            )
        return self

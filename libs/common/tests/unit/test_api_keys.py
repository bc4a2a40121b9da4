"""Admin keys: parsed from the environment, compared in constant time, never shown."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator

from mlops_common.api_keys import KeyCheck, check_key, split_keys, weak_keys
from mlops_common.settings import describe_validation_error, is_loopback

KEYS = [SecretStr("first-key-0123456789"), SecretStr("second-key-0123456789")]


@pytest.mark.parametrize(
    ("given", "keys", "expected"),
    [
        (None, KEYS, KeyCheck.MISSING),
        ("", KEYS, KeyCheck.MISSING),
        ("second-key-0123456789", KEYS, KeyCheck.OK),
        ("first-key-0123456789", KEYS, KeyCheck.OK),
        ("first-key-012345678", KEYS, KeyCheck.WRONG),
        ("first-key-0123456789 ", KEYS, KeyCheck.WRONG),
        ("anything", [], KeyCheck.NONE_CONFIGURED),
    ],
)
def test_check_key(given: str | None, keys: list[SecretStr], expected: KeyCheck) -> None:
    assert check_key(given, keys) is expected


def test_split_keys_drops_blanks_and_spaces() -> None:
    assert split_keys(" a , b,,c ") == ["a", "b", "c"]
    assert split_keys("") == []
    assert split_keys(["x"]) == ["x"]


def test_weak_keys_counts_defaults_and_short_ones() -> None:
    keys = [SecretStr("dev-admin-key"), SecretStr("short"), SecretStr("x" * 32)]
    assert weak_keys(keys) == 2
    assert weak_keys([SecretStr("CHANGEME" * 3)]) == 0  # long enough, not a default


class _Keys(BaseModel):
    keys: list[SecretStr] = Field(min_length=2)
    port: int = 1

    @field_validator("keys", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return split_keys(value)


def test_settings_errors_name_the_setting_not_its_value() -> None:
    with pytest.raises(ValidationError) as caught:
        _Keys(keys="only-one-secret-key", port="not-a-port")  # type: ignore[arg-type]
    assert "only-one-secret-key" in str(caught.value)  # pydantic's own text echoes inputs
    described = describe_validation_error(caught.value)
    assert "only-one-secret-key" not in described
    assert "not-a-port" not in described
    assert "  keys:" in described
    assert "  port:" in described
    assert "**********" in repr(_Keys(keys="a,b"))


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("gateway", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback

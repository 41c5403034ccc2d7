"""One way to say what pydantic refused, for the booth's config, central's settings, the catalogue and
`kiosk provision init`: the key, the value found and what is allowed, pydantic's "Value error, " dropped."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from appliance.catalog.model import CatalogError, parse_catalog
from appliance.config import ConfigError, parse_config
from appliance.validation import listed, problems
from central.settings import SettingsError, build_settings


class Sample(BaseModel):
    model_config = ConfigDict(extra="forbid")
    port: int = Field(le=65535)
    name: str

    @field_validator("name")
    @classmethod
    def _plain(cls, value: str) -> str:
        if " " in value:
            raise ValueError("no spaces, e.g. kiosk-1")
        return value


def test_each_kind_of_problem_in_one_grammar() -> None:
    with pytest.raises(ValidationError) as refused:
        Sample.model_validate({"port": 70000, "name": "a b", "colour": "red"})
    lines = listed(refused.value).splitlines()
    assert lines == ["  - port = 70000: Input should be less than or equal to 65535",
                     "  - name = 'a b': no spaces, e.g. kiosk-1",
                     "  - colour is not a known setting"]
    with pytest.raises(ValidationError) as missing:
        Sample.model_validate({})
    assert [p.describe() for p in problems(missing.value)] == ["port is missing (required)",
                                                               "name is missing (required)"]


def test_config_settings_and_catalogue_say_it_the_same_way() -> None:
    with pytest.raises(SettingsError) as central:
        build_settings(staff_hours="17:30-08:30", broker_port=0)
    assert "  - broker_port = 0: Input should be greater than or equal to 1" in str(central.value)
    assert "  - staff_hours = '17:30-08:30': --staff-hours takes HH:MM-HH:MM" in str(central.value)
    assert "Value error" not in str(central.value)
    with pytest.raises(ConfigError) as booth:
        parse_config({"device": {"id": "ok-device-01", "site": "x", "region": "370203"},
                      "broker": {"host": "h", "port": 0}})
    assert "  - broker.port = 0: Input should be greater than or equal to 1" in str(booth.value)
    with pytest.raises(CatalogError) as catalogue:
        parse_catalog({"version": "v", "items": [{"code": "GA-001", "promised_days": -1}]})
    assert "item 'GA-001': field promised_days = -1: Input should be greater than or equal to 0" in str(
        catalogue.value)
    assert "item 'GA-001': field name Field required" in str(catalogue.value)


@pytest.mark.parametrize("device", ["card_reader", "scanner", "printer"])
def test_every_serial_device_is_offered_the_same_baud_rates(device: str) -> None:
    base = {"device": {"id": "ok-device-01", "site": "x", "region": "370203"}, "broker": {"host": "h"}}
    with pytest.raises(ConfigError) as refused:
        parse_config({**base, "hardware": {device: {"baud": 14400}}})
    assert f"hardware.{device}.baud = 14400: Input should be 9600, 19200, 38400, 57600 or 115200" in str(
        refused.value)
    for baud in (9600, 19200, 38400, 57600, 115200):
        assert getattr(parse_config({**base, "hardware": {device: {"baud": baud}}}).hardware, device).baud == baud

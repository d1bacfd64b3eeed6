"""The ``crypt`` configuration section is validated wherever configuration is written or
checked (docs/encryption.md#recipients): ``config set``, ``verify`` and a hub."""

from __future__ import annotations

import json

from conftest import git
from gitstore.config import CONFIG_PATH
from gitstore.storeshape import config_problems


def test_config_set_of_a_malformed_crypt_section_is_refused_and_writes_nothing(gs):
    assert gs("ticket", "create", "1001", "--client", "Ana", "--company", "Acme").exit_code == 0
    head = git(gs.path, "rev-parse", "HEAD")
    result = gs("config", "set", "crypt.recipients", '[{"name": "x", "recipient": "not-a-key"}]')
    assert result.exit_code == 1
    assert result.output.startswith("Error: recipient 'x'") and result.output.count("\n") == 1
    assert git(gs.path, "rev-parse", "HEAD") == head


def test_verify_reports_a_malformed_crypt_section_in_one_line():
    bad = json.dumps({"crypt": {"recipients": "age1nope"}}).encode()
    problems = config_problems(bad)
    assert len(problems) == 1 and problems[0].startswith(f"{CONFIG_PATH}: crypt.recipients must be a list")
    assert config_problems(json.dumps({"crypt": {"recipients": []}}).encode()) == []

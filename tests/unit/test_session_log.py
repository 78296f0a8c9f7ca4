"""``[spark] log_level``: checked as a setting, and given to the JVM as a log4j2
configuration from its start."""

from __future__ import annotations

from pathlib import Path

import pytest

from w2v_spark.config_loading import load_config
from w2v_spark.errors import ConfigError
from w2v_spark.spark.session import _with_log_config


def test_an_unknown_level_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"\[spark\] log_level.*must be one of: OFF, FATAL"):
        load_config(overrides=['spark.log_level="QUIET"'])


def _config_file(options: str) -> Path:
    flag = "-Dlog4j2.configurationFile=file:"
    assert flag in options
    return Path(options.split(flag, 1)[1].split()[0])


def test_the_level_is_written_for_the_root_and_sparks_loggers() -> None:
    options = _with_log_config("", "ERROR")
    text = _config_file(options).read_text(encoding="utf-8")
    assert "rootLogger.level = error\n" in text
    assert "logger.spark.name = org.apache.spark\nlogger.spark.level = error\n" in text
    assert options == _with_log_config("", "ERROR")  # the same file on the next start


def test_other_java_options_are_kept() -> None:
    options = _with_log_config("-Dfoo=1 -Xss4m", "INFO")
    assert options.startswith("-Dfoo=1 -Xss4m -Dlog4j2.configurationFile=file:")
    assert "rootLogger.level = info\n" in _config_file(options).read_text(encoding="utf-8")


def test_a_users_own_log_configuration_wins() -> None:
    own = "-Dlog4j2.configurationFile=file:/etc/spark/log4j2.properties"
    assert _with_log_config(own, "ERROR") == own

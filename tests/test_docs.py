"""The docs keep up with the code: every setting in the README, every error code in docs/api.md."""

from __future__ import annotations

import re
from pathlib import Path

from live2d_notify.config import Settings, SettingsError, readme_table, setting_names

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "live2d_notify"


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in setting_names() if f"`{name}`" not in readme]
    assert not missing


def test_the_readme_settings_table_is_the_declared_one() -> None:
    """Defaults and help come from config.py's declarations: `python -m live2d_notify.config` prints the table."""
    assert readme_table() in (ROOT / "README.md").read_text()


def test_every_variable_the_code_reads_is_declared() -> None:
    """No setting is read around the table: the only LIVE2D_NOTIFY_ names in the server are declared ones."""
    declared = set(setting_names())
    server = [p for p in SRC.rglob("*.py") if p.name not in {"hooks.py", "install.py", "clis.py"}]
    read = {m for p in server for m in re.findall(r"LIVE2D_NOTIFY_[A-Z_]+", p.read_text())} - {"LIVE2D_NOTIFY_"}
    assert read <= declared, read - declared


def test_every_error_code_is_in_docs_api() -> None:
    code = "\n".join(p.read_text() for p in SRC.rglob("*.py"))
    used = set(re.findall(r'ApiError\(\s*\d{3},\s*"([a-z_]+)"', code))
    used |= set(re.findall(r'BadToken\("([a-z_]+)"', code))
    used |= set(re.findall(r'^\s+\d{3}: "([a-z_]+)",$', (SRC / "errors.py").read_text(), re.M))
    assert {"bad_json", "token_scope", "too_many_streams", "body_too_large", "unavailable"} <= used
    doc = (ROOT / "docs" / "api.md").read_text()
    missing = sorted(c for c in used if f"`{c}`" not in doc and c not in {"unauthorized", "forbidden"})
    assert not missing


def test_settings_parse_and_refuse_bad_values() -> None:
    s = Settings.from_env(
        {
            "LIVE2D_NOTIFY_HOOK_RATE": "5/second;100/minute",
            "LIVE2D_NOTIFY_AUDIT": "1",
            "LIVE2D_NOTIFY_CORS_ORIGINS": "https://a.example, https://b.example",
        }
    )
    assert s.hook_rate == ("5/second", "100/minute") and s.audit
    assert s.cors_origins == ("https://a.example", "https://b.example")
    for env in (
        {"LIVE2D_NOTIFY_HOOK_RATE": "lots"},
        {"LIVE2D_NOTIFY_TICKET_TTL": "301"},
        {"LIVE2D_NOTIFY_AUDIT": "maybe"},
        {"LIVE2D_NOTIFY_STREAMS_PER_USER": "x"},
        {"LIVE2D_NOTIFY_STREAMS_PER_USER": "0"},
        {"LIVE2D_NOTIFY_HEARTBEAT": "16"},
        {"LIVE2D_NOTIFY_LOG_FORMAT": "xml"},
        {"LIVE2D_NOTIFY_SECRET_KEYS": "short-key"},
        {"LIVE2D_NOTIFY_HOOK_TTL": "59"},
    ):
        try:
            Settings.from_env(env)
        except SettingsError as exc:
            assert next(iter(env)) in str(exc)
        else:
            raise AssertionError(f"{env} accepted")

"""Settings, read once from the environment (prefix ``TIERFLOW_``) in the composition root.

Nothing reads the environment anywhere else; nothing opens a database at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting the platform reads. Documented in ``docs/CONFIGURATION.md`` (a test keeps them in step)."""

    model_config = SettingsConfigDict(env_prefix="TIERFLOW_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/tierflow.db",
        description="SQLAlchemy URL of the database; a SQLite file by default, PostgreSQL in production "
        "(postgresql+psycopg://user@host/db).",
    )
    data_dir: Path = Field(
        default=Path("var"),
        description="Folder for the platform's key file and the demo credentials.",
    )
    platform_key: str | None = Field(
        default=None,
        description="Base64 of the 32-byte Ed25519 seed that signs checkpoints and platform events. When unset, "
        "a key is generated once into <data_dir>/platform.key (refused when environment is 'production').",
    )
    environment: str = Field(default="development", description="'development' or 'production'.")
    log_origin: str = Field(
        default="tierflow.example/journal",
        description="The checkpoint origin line (and the platform key's name in signed notes).",
    )
    tier_limit: int = Field(default=11, description="Deepest tier a voucher may reach.")
    split_limit: int = Field(default=500, description="Most splits of one voucher.")
    offer_ttl_hours: int = Field(default=72, description="Hours a transfer offer stays open.")
    trade_checks: Literal["enforce", "record"] = Field(
        default="enforce",
        description="'enforce': a failing trade-background check refuses an issue or transfer and rejects a "
        "financing request; 'record': verdicts are stored and shown only. Fixed in the genesis entry.",
    )
    command_max_skew_seconds: int = Field(
        default=600, description="How far a signed command's issued_at may be from the server's clock."
    )
    integrate_interval_ms: int = Field(
        default=100, description="How often the server integrates new journal entries and signs a checkpoint."
    )
    integrate_batch: int = Field(default=1024, description="Most journal entries integrated per batch.")
    commit_batch: int = Field(default=256, description="Most commands committed together (group commit).")
    password_hash_memory_kib: int = Field(
        default=65536, ge=1024, description="Argon2id memory cost of portal password hashes, in KiB."
    )
    password_hash_time_cost: int = Field(default=3, ge=1, description="Argon2id passes over that memory.")
    session_ttl_minutes: int = Field(default=480, description="How long a portal sign-in lasts.")
    secure_cookies: bool = Field(
        default=False,
        description="Mark the portal's session cookie Secure (HTTPS only). Turn on behind TLS; off for local use.",
    )

    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

"""Where commons-helper keeps its files.

Every path comes from platformdirs, except when ``COMMONS_HELPER_HOME`` is set:
then config, data, state, logs and runtime files all live under that folder
(tests and portable installs rely on it). Nothing is created at import time.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "commons-helper"
HOME_ENV = "COMMONS_HELPER_HOME"


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path
    state_dir: Path
    log_dir: Path
    runtime_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def credentials_file(self) -> Path:
        return self.config_dir / "credentials.json"

    @property
    def database_file(self) -> Path:
        return self.data_dir / "commons-helper.sqlite3"

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def thumbnail_dir(self) -> Path:
        return self.data_dir / "thumbnails"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "commons-helper.log"

    @property
    def runtime_file(self) -> Path:
        return self.runtime_dir / "helper.json"

    def as_dict(self) -> dict[str, str]:
        return {
            "config": str(self.config_file),
            "credentials": str(self.credentials_file),
            "data": str(self.data_dir),
            "database": str(self.database_file),
            "spool": str(self.spool_dir),
            "log": str(self.log_file),
            "runtime": str(self.runtime_file),
        }


def get_paths(environ: dict[str, str] | None = None) -> Paths:
    env = os.environ if environ is None else environ
    home = env.get(HOME_ENV)
    if home:
        root = Path(home).expanduser().resolve()
        return Paths(
            config_dir=root / "config",
            data_dir=root / "data",
            state_dir=root / "state",
            log_dir=root / "log",
            runtime_dir=root / "run",
        )
    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    with warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR platformdirs warns and falls back to a /tmp folder: fine for us.
        warnings.simplefilter("ignore")
        runtime = Path(dirs.user_runtime_dir)
    return Paths(
        config_dir=Path(dirs.user_config_dir),
        data_dir=Path(dirs.user_data_dir),
        state_dir=Path(dirs.user_state_dir),
        log_dir=Path(dirs.user_log_dir),
        runtime_dir=runtime,
    )


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by the owner only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path

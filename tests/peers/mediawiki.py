"""A throwaway real MediaWiki 1.39 (Debian's package) served by PHP's built-in server.

Used by the test suite (session fixture) and the benchmarks. Everything lives in
one temp folder and listens on 127.0.0.1 only; ``stop()`` kills the whole
process group (PHP's server forks workers).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

MW_DIR = Path("/usr/share/mediawiki")
ADMIN = "Admin"
ADMIN_PASSWORD = "admin-pass-" + "x" * 8

ROUTER = r"""<?php
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if (strpos($path, '/images/') === 0) {
    $file = __DIR__ . $path;
    if (is_file($file)) {
        $mime = mime_content_type($file) ?: 'application/octet-stream';
        header('Content-Type: ' . $mime);
        readfile($file);
        return true;
    }
    http_response_code(404);
    return true;
}
return false;
"""

EXTRA_SETTINGS = """
$wgEnableUploads = true;
$wgUploadDirectory = "{dir}/images";
$wgUploadPath = "/images";
$wgTmpDirectory = "{dir}/tmp";
$wgCacheDirectory = "{dir}/cache";
$wgFileExtensions = ['png', 'gif', 'jpg', 'jpeg', 'tif', 'tiff', 'webp', 'webm', 'svg', 'pdf'];
$wgMaxUploadSize = 1024 * 1024 * 1024;
$wgEnableAsyncUploads = {async_uploads};
$wgEnableBotPasswords = true;
$wgJobRunRate = 0;
$wgRateLimits['upload'] = [];
$wgRateLimits['edit'] = [];
$wgUseInstantCommons = false;
$wgEnableEmail = false;
$wgMainCacheType = CACHE_DB;
$wgSessionCacheType = CACHE_DB;
$wgShowExceptionDetails = true;
$wgGroupPermissions['*']['edit'] = false;
$wgGroupPermissions['*']['createaccount'] = false;
$wgUseImageMagick = false;
$wgGenerateThumbnailOnParse = false;
$wgAPIMaxResultSize = 16 * 1024 * 1024;
$wgUploadSizeWarning = 20 * 1024 * 1024;  // bigger uploads get the harmless "large-file" warning
$wgMemoryLimit = "1G";  // job runs that publish big files need more than the 150M default
{extra}
"""

# Grants for the main bot password (commons-api.md) and a crippled one.
FULL_GRANTS = "basic,uploadfile,uploadeditmovefile,editpage,createeditmovepage"
NO_CREATE_GRANTS = "basic,uploadfile,uploadeditmovefile,editpage"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bot_password() -> str:
    """A bot password MediaWiki recognises as one: ^[0-9a-w]{32,}$."""
    alphabet = "0123456789abcdefghijklmnopqrstuvw"
    return "".join(secrets.choice(alphabet) for _ in range(32))


@dataclass
class BotLogin:
    user: str
    password: str


@dataclass
class TestWiki:
    __test__ = False  # not a test class, despite the name
    root: Path
    port: int = 0
    async_uploads: bool = False
    extra_settings: str = ""
    process: subprocess.Popen[bytes] | None = None
    bots: dict[str, BotLogin] = field(default_factory=dict)

    @property
    def server(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.server}/api.php"

    @property
    def config_file(self) -> Path:
        return self.root / "LocalSettings.php"

    def _php_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["MW_CONFIG_FILE"] = str(self.config_file)
        return env

    def install(self) -> None:
        if not (MW_DIR / "maintenance" / "install.php").exists():
            raise RuntimeError("MediaWiki is not installed (apt-get install mediawiki); run ./run-tests")
        if not self.port:
            self.port = free_port()
        for sub in ("data", "images", "tmp", "cache"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["php", str(MW_DIR / "maintenance" / "install.php"), "--quiet", "--dbtype", "sqlite",
             "--dbpath", str(self.root / "data"), "--dbname", "testwiki",
             "--server", self.server, "--scriptpath", "", "--pass", ADMIN_PASSWORD,
             "--confpath", str(self.root), "Test Wiki", ADMIN],
            check=True, env=self._php_env(), capture_output=True, timeout=180,
        )
        with self.config_file.open("a") as fh:
            fh.write(EXTRA_SETTINGS.format(
                dir=self.root, async_uploads="true" if self.async_uploads else "false",
                extra=self.extra_settings))
        (self.root / "router.php").write_text(ROUTER)
        self.bots["full"] = self.create_bot_password("test", FULL_GRANTS)
        self.bots["nocreate"] = self.create_bot_password("nocreate", NO_CREATE_GRANTS)

    def maintenance(self, script: str, *args: str) -> str:
        res = subprocess.run(
            ["php", "-d", "memory_limit=1G", str(MW_DIR / "maintenance" / script), *args],
            check=False, env=self._php_env(), capture_output=True, timeout=180, text=True,
        )
        if res.returncode != 0:
            raise RuntimeError(f"{script} {' '.join(args)} failed ({res.returncode}):\n"
                               f"{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
        return res.stdout

    def run_upload_jobs(self) -> None:
        """Run queued chunk-assembly and publish jobs (async uploads; they are kept out of the
        default queue, so runJobs.php must name their types)."""
        for kind in ("AssembleUploadChunks", "PublishStashedFile"):
            self.maintenance("runJobs.php", "--type", kind, "--maxjobs", "20")

    def create_user(self, name: str, password: str) -> None:
        self.maintenance("createAndPromote.php", "--force", name, password)

    def create_bot_password(self, appid: str, grants: str, user: str = ADMIN) -> BotLogin:
        password = bot_password()
        self.maintenance("createBotPassword.php", "--appid", appid, "--grants", grants, user, password)
        return BotLogin(f"{user}@{appid}", password)

    def start(self) -> None:
        log = (self.root / "php-server.log").open("ab")
        env = self._php_env()
        env["PHP_CLI_SERVER_WORKERS"] = "4"
        self.process = subprocess.Popen(
            ["php", "-d", "upload_max_filesize=1200M", "-d", "post_max_size=1300M",
             "-d", "memory_limit=512M", "-d", "max_execution_time=600",
             "-S", f"127.0.0.1:{self.port}", "-t", str(MW_DIR), str(self.root / "router.php")],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.query(action="query", meta="siteinfo")
                return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"PHP server exited; see {self.root / 'php-server.log'}") from None
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the test wiki did not answer within 30 s")

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def query(self, **params: str) -> dict[str, object]:
        """An anonymous GET against the API, with the standard library (independent of our client)."""
        params = {"format": "json", "formatversion": "2", **params}
        url = self.api + "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - loopback test peer
            return json.loads(resp.read())  # type: ignore[no-any-return]

    def file_versions(self, title: str) -> list[dict[str, object]]:
        """All versions of ``File:title`` (newest first): sha1, user, timestamp, url."""
        data = self.query(action="query", prop="imageinfo", titles=title,
                          iiprop="sha1|user|timestamp|url|size", iilimit="50")
        page = data["query"]["pages"][0]  # type: ignore[index]
        return list(page.get("imageinfo", []))  # type: ignore[union-attr]

    def files_with_sha1(self, sha1: str) -> list[str]:
        data = self.query(action="query", list="allimages", aisha1=sha1)
        return [i["title"] for i in data["query"]["allimages"]]  # type: ignore[index]

    def page_text(self, title: str) -> str | None:
        data = self.query(action="query", prop="revisions", rvprop="content", rvslots="main",
                          titles=title)
        page = data["query"]["pages"][0]  # type: ignore[index]
        if page.get("missing"):  # type: ignore[union-attr]
            return None
        return str(page["revisions"][0]["slots"]["main"]["content"])  # type: ignore[index]

    def download(self, url: str) -> bytes:
        with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 - loopback test peer
            return resp.read()  # type: ignore[no-any-return]


def start_wiki(root: Path, **kwargs: object) -> TestWiki:
    wiki = TestWiki(root=root, **kwargs)  # type: ignore[arg-type]
    wiki.install()
    wiki.start()
    return wiki


def remove(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)

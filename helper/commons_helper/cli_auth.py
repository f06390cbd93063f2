"""``commons-helper login``, ``whoami`` and ``logout``.

Secrets are only ever read from standard input (``--client-secret-stdin``,
``--access-token-stdin``, ``--bot-password-stdin``), never from the command line
(where ``ps`` and shell history would see them), and never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import time
import webbrowser
from typing import TYPE_CHECKING, Any

from .auth.flow import Endpoints, requested_grants
from .auth.oauth import ClientConfig
from .auth.signin import (
    BROWSER_TIMEOUT,
    BrowserSignIn,
    find_credential,
    sign_in_with_access_token,
    sign_in_with_bot_password,
    sign_in_with_browser,
)
from .auth.store import (
    KIND_ACCESS_TOKEN,
    KIND_BOT_PASSWORD,
    KIND_OAUTH,
    Credential,
    CredentialStore,
    open_store,
)
from .cli import add_wiki_options
from .errors import UsageError
from .runtime import tell_helper_credentials_changed

if TYPE_CHECKING:
    from .cli import Context

KIND_LABEL = {
    KIND_OAUTH: "OAuth 2.0 (browser sign-in)",
    KIND_ACCESS_TOKEN: "owner-only access token",
    KIND_BOT_PASSWORD: "bot password",
}

WAYS = """\
Connect commons-helper to your Wikimedia account. Three ways (docs/sign-in.md has the details):

  1. Sign in with your browser (OAuth 2.0). Register a consumer on Meta once
     (Special:OAuthConsumerRegistration/propose/oauth2, callback URL
     http://127.0.0.1/oauth/callback), then:
       commons-helper login --client-id ID --client-secret-stdin   (confidential client)
       commons-helper login --client-id ID                         (public client; you will
                                                                    have to sign in again
                                                                    every few hours)
  2. Paste an owner-only access token (simplest for your own account; never expires):
       commons-helper login --access-token-stdin
  3. Use a bot password you already have (Special:BotPasswords):
       commons-helper login --bot-user 'You@appid' --bot-password-stdin

Grants asked for: basic uploadfile editpage createeditmovepage
(add --allow-overwrite-others for uploadeditmovefile). Secrets are read from standard input
only and kept in {where}.
"""


def register(subparsers: Any) -> None:
    login = subparsers.add_parser(
        "login", help="connect your Wikimedia account (browser, owner-only token or bot password)",
        description="Connect commons-helper to your Wikimedia account. Without options it "
                    "explains the three ways.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    login.add_argument("--oauth-base", metavar="URL",
                       help="base of the OAuth 2.0 endpoints (default: Meta's "
                            "https://meta.wikimedia.org/w/rest.php/oauth2, or `oauth_base` in "
                            "the config)")
    login.add_argument("--client-id", help="client (consumer) key of your OAuth 2.0 consumer")
    login.add_argument("--client-secret-stdin", action="store_true",
                       help="read the consumer's client secret from standard input "
                            "(confidential client)")
    login.add_argument("--access-token-stdin", action="store_true",
                       help="read an owner-only consumer's access token from standard input")
    login.add_argument("--bot-user", metavar="USER@APPID", help="bot password login name")
    login.add_argument("--bot-password-stdin", action="store_true",
                       help="read the bot password from standard input")
    add_wiki_options(login)
    login.add_argument("--no-browser", action="store_true",
                       help="print the sign-in URL instead of opening a browser")
    login.add_argument("--scopes", metavar="GRANTS",
                       help="grants to ask for, space separated (default: basic uploadfile "
                            "editpage createeditmovepage)")
    login.add_argument("--allow-overwrite-others", action="store_true",
                       help="also ask for uploadeditmovefile (overwrite files others uploaded)")
    login.add_argument("--port", dest="callback_port", type=int, default=0, metavar="PORT",
                       help="port for the one-shot callback listener on 127.0.0.1 (default: any "
                            "free port; Meta ignores the port of 127.0.0.1 callbacks)")
    login.add_argument("--timeout", type=float, default=BROWSER_TIMEOUT, metavar="SECONDS",
                       help="how long to wait for the browser (default 600)")
    login.set_defaults(func=run_login)

    whoami = subparsers.add_parser("whoami", help="show who you are signed in as",
                                   description="Show the stored sign-in: username, kind, grants, "
                                               "and when the access token expires.")
    whoami.add_argument("--oauth-base", metavar="URL", help="OAuth 2.0 base (see login)")
    add_wiki_options(whoami)
    whoami.add_argument("--json", action="store_true", help="print JSON")
    whoami.set_defaults(func=run_whoami)

    logout = subparsers.add_parser(
        "logout", help="remove the stored sign-in from this computer",
        description="Remove the stored credentials (tokens, client secret, bot password) from "
                    "this computer and say where to revoke access on the wiki.")
    logout.add_argument("--oauth-base", metavar="URL", help="OAuth 2.0 base (see login)")
    add_wiki_options(logout)
    logout.add_argument("--all", action="store_true", help="remove every stored sign-in")
    logout.add_argument("--json", action="store_true", help="print JSON")
    logout.set_defaults(func=run_logout)


# -- login ------------------------------------------------------------------------------------


def _read_stdin(what: str) -> str:
    if sys.stdin is None:
        raise UsageError(f"no standard input to read the {what} from")
    if sys.stdin.isatty():
        print(f"Paste the {what} and press Enter (it will not be shown):", file=sys.stderr)
        import getpass

        value = getpass.getpass(prompt="")
    else:
        value = sys.stdin.readline()
    value = value.strip()
    if not value:
        raise UsageError(f"the {what} read from standard input is empty")
    return value


def _user_agent(ctx: Context) -> str:
    from . import __version__
    from .config import user_agent

    return user_agent(ctx.settings, __version__)


def run_login(args: argparse.Namespace, ctx: Context) -> int:
    store = open_store(ctx.paths)
    ways = sum(bool(x) for x in (args.access_token_stdin, args.bot_user or args.bot_password_stdin,
                                 args.client_id or args.client_secret_stdin))
    if ways > 1:
        raise UsageError("choose one way: --client-id (browser), --access-token-stdin, or "
                         "--bot-user with --bot-password-stdin")
    endpoints = Endpoints.from_base(ctx.settings.oauth_base)
    if args.access_token_stdin:
        token = _read_stdin("access token")
        cred = asyncio.run(sign_in_with_access_token(endpoints, token, store,
                                                     user_agent=_user_agent(ctx)))
        return _signed_in(cred, store, ctx)
    if args.bot_user or args.bot_password_stdin:
        if not (args.bot_user and args.bot_password_stdin):
            raise UsageError("--bot-user and --bot-password-stdin go together")
        password = _read_stdin("bot password")
        cred = asyncio.run(sign_in_with_bot_password(ctx.settings.wiki, args.bot_user, password,
                                                     store, user_agent=_user_agent(ctx)))
        return _signed_in(cred, store, ctx)

    client_id = args.client_id
    client_secret = ""
    if args.client_secret_stdin:
        if not client_id:
            raise UsageError("--client-secret-stdin needs --client-id")
        client_secret = _read_stdin("client secret")
    grants = requested_grants(args.allow_overwrite_others, args.scopes)
    if not client_id:
        # Signing in again: reuse the consumer (and grants) of the stored OAuth sign-in.
        previous = store.get(endpoints.base)
        if previous is not None and previous.kind == KIND_OAUTH and previous.client_id:
            client_id, client_secret = previous.client_id, previous.client_secret
            if previous.grants and not args.scopes and not args.allow_overwrite_others:
                grants = previous.grants
            print(f"Signing in again with the consumer {client_id} you used before.",
                  file=sys.stderr)
        else:
            print(WAYS.format(where=store.location))
            return 0
    signin = BrowserSignIn(endpoints=endpoints, client=ClientConfig(client_id, client_secret),
                           store=store, user_agent=_user_agent(ctx), grants=grants)

    def open_url(url: str) -> None:
        if args.no_browser:
            print("Open this address in your browser to sign in (it works once, for 10 minutes):",
                  file=sys.stderr)
            print(url, flush=True)
            return
        print("Opening your browser to sign in on Meta-Wiki. If nothing opens, run again with "
              "--no-browser.", file=sys.stderr)
        opened = False
        try:
            opened = webbrowser.open(url)
        except webbrowser.Error:
            opened = False
        if not opened:
            print(url, flush=True)

    async def browser_flow() -> Credential:
        loop = asyncio.get_running_loop()

        def launch(url: str) -> None:
            # webbrowser may block until the browser exits; the listener must keep serving.
            loop.run_in_executor(None, open_url, url)

        return await sign_in_with_browser(signin, open_url=launch, timeout=args.timeout,
                                          port=args.callback_port)

    print("Waiting for the sign-in to finish in the browser (Ctrl+C to stop)…", file=sys.stderr)
    cred = asyncio.run(browser_flow())
    return _signed_in(cred, store, ctx)


def _signed_in(cred: Credential, store: CredentialStore, ctx: Context) -> int:
    grants = " ".join(cred.grants) or "(not reported)"
    print(f"Signed in as {cred.username} ({KIND_LABEL.get(cred.kind, cred.kind)}).")
    print(f"Grants: {grants}")
    if cred.kind == KIND_OAUTH and cred.expires_at:
        renew = ("renewed automatically" if cred.refresh_token and cred.confidential else
                 "a public client cannot renew it: you will be asked to sign in again")
        print(f"Access token valid until {_when(cred.expires_at)}; {renew}.")
    missing = [g for g in ("uploadfile", "createeditmovepage") if cred.grants
               and g not in cred.grants]
    if missing:
        print(f"Warning: this sign-in lacks {', '.join(missing)}; new uploads will be refused. "
              "Add the grant(s) to the consumer or bot password and sign in again.",
              file=sys.stderr)
    print(f"Credentials kept in {store.location}.")
    if tell_helper_credentials_changed(ctx.paths.runtime_file):
        print("The running helper service now uses this sign-in; uploads waiting for a sign-in "
              "go on.")
    return 0


# -- whoami / logout ----------------------------------------------------------------------------


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    return dt.datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def describe(cred: Credential, now: float | None = None) -> dict[str, Any]:
    """The public facts of a stored sign-in (never a secret)."""
    now = time.time() if now is None else now
    expired = cred.expires_at is not None and cred.expires_at <= now
    renewable = cred.kind == KIND_OAUTH and bool(cred.refresh_token)
    if cred.status != "ok":
        state = "sign-in-needed"
    elif expired and not renewable:
        state = "expired"
    else:
        state = "ok"
    return {
        "username": cred.username,
        "kind": cred.kind,
        "grants": list(cred.grants),
        "expires_at": _when(cred.expires_at) if cred.expires_at else None,
        "renewable": renewable,
        "confidential_client": cred.confidential if cred.kind == KIND_OAUTH else None,
        "client_id": cred.client_id or None,
        "for": cred.key,
        "status": state,
    }


def run_whoami(args: argparse.Namespace, ctx: Context) -> int:
    store = open_store(ctx.paths)
    cred = find_credential(store, oauth_base=ctx.settings.oauth_base, wiki=ctx.settings.wiki)
    if cred is None:
        if args.json:
            print(json.dumps({"signed_in": False}))
        else:
            print("Not signed in. Run `commons-helper login` to see the ways to connect.")
        return 1
    info = describe(cred)
    if args.json:
        print(json.dumps({"signed_in": True, **info}, indent=2))
        return 0
    print(f"Signed in as {info['username']} ({KIND_LABEL.get(cred.kind, cred.kind)}) for "
          f"{info['for']}")
    print(f"Grants: {' '.join(info['grants']) or '(not reported)'}")
    if cred.kind == KIND_OAUTH:
        print(f"Access token expires: {info['expires_at'] or 'never'}"
              + (" (renewed automatically)" if info["renewable"] else ""))
    elif cred.kind == KIND_ACCESS_TOKEN:
        print("Access token expires: never (owner-only)")
    if info["status"] != "ok":
        print("Sign-in needed: the wiki refused to renew this sign-in. Run `commons-helper login`; "
              "queued uploads wait until you do.")
    return 0


def revoke_hint(cred: Credential, oauth_base: str) -> str:
    endpoints = Endpoints.from_base(oauth_base if cred.kind != KIND_BOT_PASSWORD else cred.key)
    if cred.kind == KIND_OAUTH:
        return ("To revoke the access on the wiki too: "
                f"{endpoints.special_page('OAuthManageMyGrants')}")
    if cred.kind == KIND_ACCESS_TOKEN:
        return ("The owner-only token still works until you revoke it: "
                f"{endpoints.special_page('OAuthManageMyGrants')} (or disable the consumer on "
                f"{endpoints.special_page('OAuthConsumerRegistration/list')})")
    api = cred.key
    root = api[: -len("/api.php")] if api.endswith("/api.php") else api
    return f"The bot password still works until you remove it: {root}/index.php?title=Special:BotPasswords"


def run_logout(args: argparse.Namespace, ctx: Context) -> int:
    store = open_store(ctx.paths)
    if args.all:
        targets = store.all()
    else:
        one = find_credential(store, oauth_base=ctx.settings.oauth_base, wiki=ctx.settings.wiki)
        targets = [one] if one is not None else []
    removed = []
    for cred in targets:
        if store.delete(cred.key) is not None:
            removed.append({"username": cred.username, "kind": cred.kind, "for": cred.key,
                            "revoke": revoke_hint(cred, ctx.settings.oauth_base)})
    if args.json:
        print(json.dumps({"removed": removed}, indent=2))
        return 0
    if not removed:
        print("No stored sign-in to remove.")
        return 0
    for item in removed:
        print(f"Removed the stored sign-in of {item['username']} ({item['kind']}) for "
              f"{item['for']} from this computer.")
        print(item["revoke"])
    print("Queued uploads stay queued; they wait until you sign in again.")
    tell_helper_credentials_changed(ctx.paths.runtime_file)
    return 0

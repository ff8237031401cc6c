"""GitHub access for the pull-request writer: settings, the PyGithub client, retries, errors.

PyGithub's default ``GithubRetry`` retries POSTs on any 5xx, which can create a
second branch or pull request when the first POST went through but its answer was
lost. So the client is built with ``retry=None`` and every call goes through
``GitHubCalls.call``, which retries 5xx, 429 and rate-limit 403s with exponential
backoff (honouring ``Retry-After``) and, for a write, first asks a ``lookup`` whether
the write already happened. Errors that retrying cannot fix become a
``GitHubSetupError`` naming the setting to correct, or a ``SecretScanningBlocked``
that never repeats GitHub's answer (it may quote the secret). Plain Python.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_LABELS = ("skillsmith", "skills")


class GitHubPullRequestError(Exception):
    """A failure of the pull-request run that retrying will not fix."""


class GitHubSetupError(GitHubPullRequestError):
    """A setting is missing or wrong; the message names it."""


class SecretScanningBlocked(GitHubPullRequestError):
    """GitHub's push protection refused the content (HTTP 409)."""


class TransientGitHubError(Exception):
    """GitHub kept failing in a way that may pass (5xx, 429, rate limit): retry the run later."""


@dataclass(frozen=True)
class GitHubSettings:
    """Where and how to open the pull request. Secrets are only held here, never logged."""

    repo: str = ""
    token: str = field(default="", repr=False)
    app_id: str = ""
    app_private_key: str = field(default="", repr=False)
    app_installation_id: str = ""
    base_branch: str = ""  # empty: the repository's default branch
    api_url: str = DEFAULT_API_URL
    labels: tuple[str, ...] = DEFAULT_LABELS
    max_prs_per_day: int = 3
    branch_prefix: str = "skillsmith/proposals"
    bot_name: str = "skillsmith[bot]"
    bot_email: str = "skillsmith-bot@users.noreply.github.com"
    max_attempts: int = 5
    backoff_base: float = 2.0  # seconds; tests set it near zero
    max_wait: float = 120.0  # longest single wait, Retry-After included
    seconds_between_writes: float = 1.0  # GitHub asks integrators to pace writes
    timeout: int = 30

    @classmethod
    def from_env(cls, environ=None, **overrides) -> "GitHubSettings":
        """Settings from the documented environment variables (the CLI; the resource has its own)."""
        env = os.environ if environ is None else environ
        labels = env.get("SKILLSMITH_GITHUB_LABELS")
        values = dict(
            repo=env.get("SKILLSMITH_GITHUB_REPO", "").strip(),
            token=env.get("GITHUB_TOKEN", "").strip(),
            app_id=env.get("SKILLSMITH_GITHUB_APP_ID", "").strip(),
            app_private_key=env.get("SKILLSMITH_GITHUB_APP_PRIVATE_KEY", ""),
            app_installation_id=env.get("SKILLSMITH_GITHUB_APP_INSTALLATION_ID", "").strip(),
            base_branch=env.get("SKILLSMITH_GITHUB_BASE", "").strip(),
            api_url=(env.get("GITHUB_API_URL") or DEFAULT_API_URL).strip(),
        )
        if labels is not None:
            values["labels"] = tuple(label.strip() for label in labels.split(",") if label.strip())
        for name, key, kind in (
            ("SKILLSMITH_GITHUB_MAX_PRS_PER_DAY", "max_prs_per_day", int),
            ("SKILLSMITH_GITHUB_WRITE_INTERVAL", "seconds_between_writes", float),
        ):
            if env.get(name, "").strip():
                try:
                    values[key] = kind(env[name])
                except ValueError:
                    raise GitHubSetupError(f"{name} must be a number (it is {env[name]!r})") from None
        values.update(overrides)
        return cls(**values)

    def missing(self) -> str | None:
        """What to set before a pull request can be opened, or None when ready."""
        needs = []
        has_app = self.app_id or self.app_private_key or self.app_installation_id
        if has_app:
            for name, value in (
                ("SKILLSMITH_GITHUB_APP_ID", self.app_id),
                ("SKILLSMITH_GITHUB_APP_PRIVATE_KEY", self.app_private_key),
                ("SKILLSMITH_GITHUB_APP_INSTALLATION_ID", self.app_installation_id),
            ):
                if not value:
                    needs.append(name)
        elif not self.token:
            needs.append("GITHUB_TOKEN (or a GitHub App: SKILLSMITH_GITHUB_APP_ID, "
                         "SKILLSMITH_GITHUB_APP_PRIVATE_KEY, SKILLSMITH_GITHUB_APP_INSTALLATION_ID)")
        if self.app_installation_id and not str(self.app_installation_id).isdigit():
            needs.append("SKILLSMITH_GITHUB_APP_INSTALLATION_ID as a number")
        if not self.repo:
            needs.append("SKILLSMITH_GITHUB_REPO (owner/name)")
        elif self.repo.count("/") != 1 or not all(self.repo.split("/")):
            needs.append(f"SKILLSMITH_GITHUB_REPO as owner/name (it is {self.repo!r})")
        if not needs:
            return None
        return "No pull request without GitHub settings: set " + " and ".join(needs) + "."

    @property
    def auth_setting(self) -> str:
        return "the GitHub App settings (SKILLSMITH_GITHUB_APP_*)" if self.app_id else "GITHUB_TOKEN"


def connect(settings: GitHubSettings):
    """A PyGithub client with its own retries off (``GitHubCalls`` retries, safely)."""
    import github

    if settings.app_id:
        auth = github.Auth.AppAuth(settings.app_id, settings.app_private_key).get_installation_auth(
            int(settings.app_installation_id)
        )
    else:
        auth = github.Auth.Token(settings.token)
    return github.Github(
        auth=auth,
        base_url=settings.api_url.rstrip("/"),
        timeout=settings.timeout,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=settings.seconds_between_writes or None,
        user_agent="skillsmith",
    )


class GitHubCalls:
    """Runs PyGithub calls with retries and turns errors into messages a person can act on."""

    def __init__(self, settings: GitHubSettings, sleep=time.sleep, log=None):
        self.settings = settings
        self.sleep = sleep
        self.log = log or (lambda message: None)

    def call(self, what: str, fn, *, lookup=None, not_found=None):
        """``fn()`` with retries. ``lookup()`` runs before a retried write: if it finds the
        result, the write already happened and is not repeated. ``not_found`` explains a
        404 for this call (default: the repository setting)."""
        import github
        import requests

        attempt = 0
        check_first = False  # a write failed in a way that may hide success: look before repeating
        while True:
            attempt += 1
            try:
                if check_first:
                    found = lookup()
                    check_first = False
                    if found is not None:
                        self.log(f"{what}: the earlier attempt went through; not repeating it")
                        return found
                return fn()
            except github.GithubException as exc:
                wait = self._transient_wait(exc, attempt)
                if wait is None:
                    raise self._permanent(what, exc, not_found) from None
                reason = f"HTTP {exc.status}"
            except (requests.ConnectionError, requests.Timeout) as exc:
                wait = self._backoff(attempt)
                reason = type(exc).__name__
            check_first = lookup is not None
            if attempt >= self.settings.max_attempts:
                raise TransientGitHubError(
                    f"{what}: GitHub still failing after {attempt} attempts ({reason}); the run can be retried"
                ) from None
            self.log(f"{what}: {reason}, retrying in {wait:.1f}s (attempt {attempt + 1} of {self.settings.max_attempts})")
            self.sleep(wait)

    def _backoff(self, attempt: int) -> float:
        base = self.settings.backoff_base * (2 ** (attempt - 1))
        return min(self.settings.max_wait, base * (0.5 + random.random() / 2))

    def _transient_wait(self, exc, attempt: int) -> float | None:
        """Seconds to wait before retrying ``exc``, or None when retrying cannot help."""
        status = exc.status or 0
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        message = str((exc.data or {}).get("message", "") if isinstance(exc.data, dict) else "").lower()
        rate_limited = status == 429 or (
            status == 403 and ("rate limit" in message or headers.get("x-ratelimit-remaining") == "0" or "retry-after" in headers)
        )
        if not (status >= 500 or rate_limited):
            return None
        wait = self._backoff(attempt)
        retry_after = headers.get("retry-after")
        if retry_after is not None:
            try:
                wait = max(wait, float(retry_after))
            except ValueError:
                pass
        elif rate_limited and headers.get("x-ratelimit-reset"):
            try:
                wait = max(wait, float(headers["x-ratelimit-reset"]) - time.time() + 1)
            except ValueError:
                pass
        if wait > self.settings.max_wait:
            raise TransientGitHubError(
                f"GitHub asks to wait {wait:.0f}s, longer than the {self.settings.max_wait:.0f}s this run waits;"
                " the run can be retried later"
            )
        return wait

    def _permanent(self, what: str, exc, not_found) -> GitHubPullRequestError:
        s = self.settings
        status = exc.status
        if status == 401:
            return GitHubSetupError(
                f"{what}: GitHub rejected the credentials (HTTP 401): check {s.auth_setting}"
                " (expired, revoked, or for another host than GITHUB_API_URL)."
            )
        if status == 403:
            return GitHubSetupError(
                f"{what}: the credentials may not do this (HTTP 403): give {s.auth_setting} write access to"
                f" contents and pull requests of SKILLSMITH_GITHUB_REPO={s.repo} (classic token: repo scope;"
                " fine-grained token or GitHub App: Contents, Pull requests and Issues read and write)."
            )
        if status == 404:
            return GitHubSetupError(
                f"{what}: not found (HTTP 404): "
                + (not_found or f"check SKILLSMITH_GITHUB_REPO={s.repo} (owner/name) and GITHUB_API_URL={s.api_url},"
                   f" and that {s.auth_setting} can see the repository")
                + "."
            )
        if status == 409 and _is_secret_scanning(exc):
            return SecretScanningBlocked(
                f"{what}: GitHub's secret scanning refused the content (HTTP 409); nothing was pushed. "
                "A proposal file holds something shaped like a secret: find it with `skillsmith pr --dry-run`,"
                " fix the normalization rules or delete the proposal, then run again."
            )
        if status == 409:
            return GitHubPullRequestError(f"{what}: conflict (HTTP 409); the branch changed meanwhile, run again.")
        if status == 422:
            return GitHubPullRequestError(f"{what}: GitHub refused the request (HTTP 422): {_safe_message(exc)}")
        return GitHubPullRequestError(f"{what}: GitHub answered HTTP {status}: {_safe_message(exc)}")


def _is_secret_scanning(exc) -> bool:
    data = exc.data if isinstance(exc.data, dict) else {}
    text = " ".join(str(data.get(k, "")) for k in ("message", "documentation_url")).lower()
    return any(word in text for word in ("secret", "push protection", "push-protection", "rule violation")) or "metadata" in data


def _safe_message(exc) -> str:
    """GitHub's own short message, scrubbed; never the request or any content it quotes."""
    from skillsmith_assets.github.pr_body import scrub

    data = exc.data if isinstance(exc.data, dict) else {}
    message = str(data.get("message", "no message"))[:200]
    return scrub(message)

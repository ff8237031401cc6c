"""New proposal files become one reviewable pull request: opened, updated in place, never duplicated.

The sensor keys its run on ``batch_digest`` (a digest of the proposal files'
contents), and ``sync_pull_request`` is what that run and ``skillsmith pr`` do:

- one grouped PR on a branch the bot owns (``branch_name``: a fixed prefix and a
  suffix from the configured base branch, never from error text), one commit made
  through the Git Data API (blobs, a tree on the base, a commit, the ref);
- an open bot PR is updated in place (a fresh commit on the current base) only
  while its branch head is a bot commit; after a person pushes, it comments once
  and leaves the PR alone;
- a bot PR a person closed is not reopened: its hidden marker records the digest
  and ids, and those proposals are not sent again; proposals already on the base
  branch are not proposed again;
- at most ``max_prs_per_day`` new PRs a day (UTC).

Plain Python (PyGithub through ``github_client``); no Dagster.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from skillsmith_assets import paths
from skillsmith_assets.github.client import GitHubCalls, GitHubSettings, GitHubSetupError, connect
from skillsmith_assets.github.pr_body import (
    HANDS_OFF_MARKER, Marker, ProposalSummary, credential_kinds, parse_marker, render_body, title,
)
from skillsmith_assets.skills.schema import ID_RE, KINDS, autopatch_relpath
from skillsmith_assets.skills.catalog import read_skill_files

COMMIT_TRAILER = "Skillsmith-Batch:"
LABEL_COLOR = "5319e7"


@dataclass(frozen=True)
class ProposalFile:
    path: str  # relative to the repository root, POSIX separators
    content: bytes


@dataclass(frozen=True)
class Proposal:
    summary: ProposalSummary
    files: tuple[ProposalFile, ...]

    @property
    def id(self) -> str:
        return self.summary.id


def load_proposals(project_dir: Path | None = None, log=None) -> list[Proposal]:
    """Every well-formed ``skills/proposed/<ID>.yaml`` (plus a fixer's autopatch, when present)."""
    root = Path(project_dir) if project_dir else paths.project_dir()
    log = log or (lambda message: None)
    found = []
    for path, doc, problem in read_skill_files(paths.proposed_dir(root)):
        if problem:
            log(f"skipping {path.name}: {problem}")
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("id"), str) or not ID_RE.match(doc["id"]):
            log(f"skipping {path.name}: no valid id")
            continue
        if path.stem != doc["id"] or doc.get("kind") not in KINDS:
            log(f"skipping {path.name}: file name and id or kind disagree")
            continue
        files = [ProposalFile(path.relative_to(root).as_posix(), path.read_bytes())]
        if doc["kind"] == "fixer":
            script = root / autopatch_relpath(doc["id"])
            if script.is_file():
                files.append(ProposalFile(script.relative_to(root).as_posix(), script.read_bytes()))
        match = doc.get("match") if isinstance(doc.get("match"), dict) else {}
        meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        samples = meta.get("samples") if isinstance(meta.get("samples"), list) else []
        summary = ProposalSummary(
            id=doc["id"],
            kind=doc["kind"],
            name=str(doc.get("name", "")),
            component=str(match.get("component") or ""),
            hits_7d=meta.get("hits_7d"),
            hits_30d=meta.get("hits_30d"),
            impact_score=meta.get("impact_score"),
            samples=tuple(str(s) for s in samples),
            path=files[0].path,
            extra_paths=tuple(f.path for f in files[1:]),
        )
        found.append(Proposal(summary, tuple(files)))
    return found


def hold_back_credentials(proposals, log=None) -> list[Proposal]:
    """``proposals`` minus those whose files hold an unmistakable credential.

    Normalization masks secrets, but a file pushed to GitHub is public to everyone
    who can read the repository: one that still holds a token stays local, and the
    log names the proposal and the kind of secret, never the value.
    """
    log = log or (lambda message: None)
    kept = []
    for proposal in proposals:
        kinds = sorted({kind for f in proposal.files for kind in credential_kinds(f.content.decode("utf-8", "replace"))})
        if kinds:
            log(f"held back {proposal.id}: its files hold what looks like {' and '.join(kinds)};"
                " fix the normalization rules or delete the proposal")
        else:
            kept.append(proposal)
    return kept


def batch_digest(proposals) -> str:
    """SHA-256 over the proposal files' paths and contents, independent of order."""
    entries = sorted(
        f"{f.path}\0{hashlib.sha256(f.content).hexdigest()}" for p in proposals for f in p.files
    )
    return hashlib.sha256("\n".join(entries).encode("utf-8")).hexdigest()


def branch_name(settings: GitHubSettings, base: str) -> str:
    """The bot's branch for ``base``: a fixed prefix and the base's name made ref-safe.

    Stable across batches, so every batch lands in the same PR; built from
    configuration only, never from proposal or error text.
    """
    suffix = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-.") or "base"
    if suffix != base:
        suffix += "-" + hashlib.sha256(base.encode()).hexdigest()[:8]
    return f"{settings.branch_prefix}-{suffix}"


@dataclass
class Outcome:
    """What a sync did; ``action`` is one of opened, updated, unchanged, skipped, left-alone, dry-run."""

    action: str
    reason: str
    digest: str = ""
    branch: str = ""
    pr_number: int | None = None
    pr_url: str = ""
    proposal_ids: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    body: str = ""
    log: list[str] = field(default_factory=list)


def plan(proposals, settings: GitHubSettings, base: str | None = None) -> Outcome:
    """What would be written, without GitHub: branch, files and body (``skillsmith pr --dry-run``)."""
    base = base or settings.base_branch or "main"
    held = []
    proposals = hold_back_credentials(proposals, log=held.append)
    digest = batch_digest(proposals)
    marker = Marker(digest=digest, ids=tuple(p.id for p in proposals))
    return Outcome(
        action="dry-run",
        reason=f"would propose {len(proposals)} skills",
        digest=digest,
        branch=branch_name(settings, base),
        proposal_ids=marker.ids,
        files=tuple(f.path for p in proposals for f in p.files),
        body=render_body([p.summary for p in proposals], marker),
        log=held,
    )


class PullRequestSync:
    """One sync of the proposals with GitHub; see the module docstring for the rules."""

    def __init__(self, settings: GitHubSettings, sleep=None, log=None, now=None):
        missing = settings.missing()
        if missing:
            raise GitHubSetupError(missing)
        self.settings = settings
        self.messages: list[str] = []
        self._log_fn = log
        kwargs = {"log": self._log}
        if sleep is not None:
            kwargs["sleep"] = sleep
        self.calls = GitHubCalls(settings, **kwargs)
        self.now = now or (lambda: datetime.now(timezone.utc))

    def _log(self, message: str) -> None:
        self.messages.append(message)
        if self._log_fn:
            self._log_fn(message)

    def run(self, proposals) -> Outcome:
        gh = connect(self.settings)
        try:
            outcome = self._run(gh, list(proposals))
        finally:
            gh.close()
        outcome.log = self.messages
        return outcome

    def _run(self, gh, proposals: list[Proposal]) -> Outcome:
        s = self.settings
        call = self.calls.call
        proposals = hold_back_credentials(proposals, log=self._log)
        if not proposals:
            return Outcome("unchanged", "no proposals left to send (see the log)")
        repo = call("reading the repository", lambda: gh.get_repo(s.repo))
        base = s.base_branch or repo.default_branch
        branch = branch_name(s, base)
        owner = s.repo.split("/")[0]
        base_ref = call(
            f"reading base branch {base}", lambda: repo.get_git_ref(f"heads/{base}"),
            not_found=f"base branch {base!r} does not exist in {s.repo}: check SKILLSMITH_GITHUB_BASE",
        )
        base_sha = base_ref.object.sha
        base_commit = call("reading the base commit", lambda: repo.get_git_commit(base_sha))
        base_tree = call("reading the base tree", lambda: repo.get_git_tree(base_commit.tree.sha, recursive=True))

        on_base = {Path(e.path).stem for e in base_tree.tree if e.path.startswith("skills/") and e.path.endswith(".yaml")}
        held = [p for p in proposals if p.id in on_base]
        proposals = [p for p in proposals if p.id not in on_base]
        if held:
            self._log(f"already on {base}: {', '.join(p.id for p in held)}")

        pulls = call(
            "listing the bot's pull requests",
            lambda: list(repo.get_pulls(state="all", head=f"{owner}:{branch}", sort="created", direction="desc")),
        )
        open_prs = [pr for pr in pulls if pr.state == "open"]
        closed_markers = [m for m in (parse_marker(pr.body) for pr in pulls if pr.state == "closed" and not pr.merged_at) if m]
        digest_all = batch_digest(proposals)
        if any(m.digest == digest_all for m in closed_markers):
            return Outcome("skipped", "a person closed the pull request for these proposals; not reopening it",
                           digest=digest_all, branch=branch)
        closed_ids = {i for m in closed_markers for i in m.ids}
        declined = [p.id for p in proposals if p.id in closed_ids]
        if declined:
            self._log(f"in a pull request a person closed, not proposed again: {', '.join(declined)}")
        proposals = [p for p in proposals if p.id not in closed_ids]
        if not proposals:
            return Outcome("unchanged", "no proposals that are not on the base branch or declined", branch=branch)
        digest = batch_digest(proposals)
        ids = tuple(p.id for p in proposals)
        files = tuple(f.path for p in proposals for f in p.files)

        if open_prs:
            pr = open_prs[0]
            marker = parse_marker(pr.body)
            if marker and marker.digest == digest:
                return Outcome("unchanged", "the open pull request already proposes exactly these files",
                               digest=digest, branch=branch, pr_number=pr.number, pr_url=pr.html_url,
                               proposal_ids=ids, files=files, body=pr.body)
            head_sha = call("reading the bot branch", lambda: repo.get_git_ref(f"heads/{branch}")).object.sha
            commit_sha = None
            if self._is_bot_commit(repo, head_sha, marker):
                commit_sha = self._commit(repo, proposals, base_commit, base_tree, digest)
                # GitHub has no compare-and-swap for refs: look again right before the forced move.
                ref = call("reading the bot branch", lambda: repo.get_git_ref(f"heads/{branch}"))
                if ref.object.sha != head_sha:
                    commit_sha = None
            if commit_sha is None:
                self._comment_once(pr)
                return Outcome("left-alone", f"someone else pushed to {branch}; leaving pull request #{pr.number} to them",
                               digest=digest, branch=branch, pr_number=pr.number, pr_url=pr.html_url)
            call(f"moving {branch}", lambda: ref.edit(commit_sha, force=True))
            body = render_body([p.summary for p in proposals], Marker(digest, ids, commit_sha))
            call(f"updating pull request #{pr.number}", lambda: pr.edit(title=title(proposals), body=body))
            self._label(repo, pr)
            return Outcome("updated", f"updated pull request #{pr.number} with {len(proposals)} proposals",
                           digest=digest, branch=branch, pr_number=pr.number, pr_url=pr.html_url,
                           proposal_ids=ids, files=files, body=body)

        today = self.now().date()
        created_today = sum(1 for pr in pulls if pr.created_at and _utc(pr.created_at).date() == today)
        if created_today >= s.max_prs_per_day:
            return Outcome("skipped", f"already opened {created_today} pull requests today (the cap is "
                           f"{s.max_prs_per_day}, SKILLSMITH_GITHUB_MAX_PRS_PER_DAY); trying again tomorrow",
                           digest=digest, branch=branch)
        commit_sha = self._commit(repo, proposals, base_commit, base_tree, digest)
        self._point_branch(repo, branch, commit_sha)
        body = render_body([p.summary for p in proposals], Marker(digest, ids, commit_sha))

        def find_open_pr():
            found = [pr for pr in repo.get_pulls(state="open", head=f"{owner}:{branch}")]
            return found[0] if found else None

        pr = call(
            "opening the pull request",
            lambda: repo.create_pull(base=base, head=branch, title=title(proposals), body=body, maintainer_can_modify=True),
            lookup=find_open_pr,
        )
        self._label(repo, pr)
        return Outcome("opened", f"opened pull request #{pr.number} with {len(proposals)} proposals",
                       digest=digest, branch=branch, pr_number=pr.number, pr_url=pr.html_url,
                       proposal_ids=ids, files=files, body=body)

    # --- writes --------------------------------------------------------------------

    def _commit(self, repo, proposals, base_commit, base_tree, digest: str) -> str:
        """One commit on the base holding the proposal files (blobs, tree, commit)."""
        import github

        call = self.calls.call
        elements = []
        for proposal in proposals:
            for f in proposal.files:
                encoded = base64.b64encode(f.content).decode("ascii")
                # Blobs are content-addressed: repeating a POST that went through makes nothing new.
                blob = call(f"uploading {f.path}", lambda encoded=encoded: repo.create_git_blob(encoded, "base64"))
                elements.append(github.InputGitTreeElement(f.path, "100644", "blob", sha=blob.sha))
        tree = call("writing the tree", lambda: repo.create_git_tree(elements, base_tree))
        author = github.InputGitAuthor(self.settings.bot_name, self.settings.bot_email)
        ids = ", ".join(p.id for p in proposals)
        message = (
            f"Propose {len(proposals)} skill{'s' if len(proposals) != 1 else ''} from recurring errors\n\n"
            f"{ids}\n\n{COMMIT_TRAILER} {digest}\n"
        )
        # A repeated commit POST at worst leaves an unreferenced commit object behind.
        commit = call("writing the commit", lambda: repo.create_git_commit(message, tree, [base_commit], author, author))
        return commit.sha

    def _point_branch(self, repo, branch: str, sha: str) -> None:
        """Create the bot branch at ``sha``, or move it there when it is left from an earlier PR."""
        import github

        call = self.calls.call

        def existing():
            try:
                return repo.get_git_ref(f"heads/{branch}")
            except github.UnknownObjectException:
                return None

        ref = call(f"reading {branch}", existing)
        if ref is None:
            ref = call(
                f"creating {branch}",
                lambda: repo.create_git_ref(f"refs/heads/{branch}", sha),
                lookup=existing,
            )
        if ref.object.sha != sha:
            call(f"moving {branch}", lambda: ref.edit(sha, force=True))

    def _is_bot_commit(self, repo, sha: str, marker: Marker | None) -> bool:
        """Whether ``sha`` (the branch head) is a commit this bot wrote; bot commits always sit
        directly on a base commit, so then every commit on the branch is the bot's."""
        if marker and marker.head == sha:
            return True
        commit = self.calls.call("reading the branch head", lambda: repo.get_git_commit(sha))
        email = self.settings.bot_email.lower()
        return (
            (commit.author.email or "").lower() == email
            and (commit.committer.email or "").lower() == email
            and COMMIT_TRAILER in (commit.message or "")
        )

    def _comment_once(self, pr) -> None:
        call = self.calls.call

        def already():
            for comment in pr.get_issue_comments():
                if HANDS_OFF_MARKER in (comment.body or ""):
                    return comment
            return None

        if call("reading comments", already) is not None:
            return
        text = (
            "Someone other than Skillsmith pushed to this branch, so Skillsmith will not update this pull "
            "request any more. New proposals will wait until it is merged or closed.\n\n" + HANDS_OFF_MARKER
        )
        call("commenting on the pull request", lambda: pr.create_issue_comment(text), lookup=already)

    def _label(self, repo, pr) -> None:
        """Create missing labels, then put them on the PR (adding a label twice is harmless)."""
        import github

        call = self.calls.call
        if not self.settings.labels:
            return
        for name in self.settings.labels:
            def find(name=name):
                try:
                    return repo.get_label(name)
                except github.UnknownObjectException:
                    return None

            if call(f"reading label {name}", find) is None:
                call(f"creating label {name}",
                     lambda name=name: repo.create_label(name, LABEL_COLOR, "Proposed by Skillsmith"), lookup=find)
        call("labelling the pull request", lambda: pr.add_to_labels(*self.settings.labels))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def sync_pull_request(settings: GitHubSettings, proposals=None, *, sleep=None, log=None) -> Outcome:
    """Open or update the pull request for ``proposals`` (default: the project's proposal files)."""
    sync = PullRequestSync(settings, sleep=sleep, log=log)
    if proposals is None:
        proposals = load_proposals(log=sync._log)
    if not proposals:
        return Outcome("unchanged", "no proposal files in skills/proposed/")
    return sync.run(proposals)

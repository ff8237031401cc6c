"""A small GitHub REST API on loopback for the pull-request tests: stateful, and it records requests.

It implements what the pull-request writer uses (repository, git refs, blobs,
trees, commits, pulls, issue labels and comments, labels) closely enough for the
real PyGithub client, and lets a test queue failures (``fail_next``), including a
failure *after* a write went through, to exercise retries and idempotent POSTs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit


def _sha(kind: str, payload) -> str:
    data = payload if isinstance(payload, bytes) else json.dumps(payload, sort_keys=True).encode()
    return hashlib.sha1(kind.encode() + b"\0" + data).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    body: object
    headers: dict


@dataclass
class Failure:
    method: str
    path_re: str
    status: int
    body: dict
    headers: dict
    after: bool  # apply the request, then answer with the failure (the write went through)
    skip: int = 0  # let this many matching requests through first


@dataclass
class FakeGitHub:
    owner: str = "acme"
    name: str = "ops"
    token: str = "test-token"
    default_branch: str = "main"
    blobs: dict = field(default_factory=dict)
    trees: dict = field(default_factory=dict)
    commits: dict = field(default_factory=dict)
    refs: dict = field(default_factory=dict)
    pulls: list = field(default_factory=list)
    comments: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    requests: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    base_url: str = ""
    app_id: str = "4242"
    app_public_key: object = None  # set to verify GitHub App JWTs
    installation_id: int = 77

    def __post_init__(self):
        self.lock = threading.RLock()
        readme = self.add_blob(b"# ops\n")
        tree = self.add_tree([{"path": "README.md", "mode": "100644", "type": "blob", "sha": readme}])
        self.refs[f"heads/{self.default_branch}"] = self.add_commit("Initial commit", tree, [], "Ada", "ada@example.com")

    # --- state helpers (tests use these too) -----------------------------------------
    @property
    def full_name(self):
        return f"{self.owner}/{self.name}"

    @property
    def repo_url(self):
        return f"{self.base_url}/repos/{self.full_name}"

    def add_blob(self, content: bytes) -> str:
        sha = _sha("blob", content)
        self.blobs[sha] = content
        return sha

    def add_tree(self, entries: list) -> str:
        entries = sorted(entries, key=lambda e: e["path"])
        sha = _sha("tree", entries)
        self.trees[sha] = entries
        return sha

    def add_commit(self, message, tree, parents, name, email) -> str:
        person = {"name": name, "email": email, "date": _now()}
        data = {"message": message, "tree": tree, "parents": parents, "author": person, "committer": person}
        sha = _sha("commit", data)
        self.commits[sha] = data
        return sha

    def files_at(self, commit_sha: str) -> dict:
        """path -> bytes of the tree of ``commit_sha``."""
        return {e["path"]: self.blobs[e["sha"]] for e in self.trees[self.commits[commit_sha]["tree"]]}

    def human_push(self, branch: str, path="notes.txt", content=b"by hand\n") -> str:
        """A person's commit on top of ``branch``."""
        with self.lock:
            head = self.refs[f"heads/{branch}"]
            entries = [e for e in self.trees[self.commits[head]["tree"]] if e["path"] != path]
            entries.append({"path": path, "mode": "100644", "type": "blob", "sha": self.add_blob(content)})
            sha = self.add_commit("Tweak by hand", self.add_tree(entries), [head], "Grace", "grace@example.com")
            self.refs[f"heads/{branch}"] = sha
            return sha

    def merge_to_base(self, number: int) -> None:
        with self.lock:
            pr = self.pulls[number - 1]
            self.refs[f"heads/{self.default_branch}"] = self.refs[f"heads/{pr['head_ref']}"]
            pr.update(state="closed", merged_at=_now())

    def fail_next(self, method, path_re, status, body=None, headers=None, after=False, times=1, skip=0):
        """Answer the next matching request(s) with ``status`` (0: drop the connection unanswered)."""
        for i in range(times):
            self.failures.append(Failure(method, path_re, status, body or {"message": "Server Error"}, headers or {},
                                         after, skip if i == 0 else 0))

    def writes(self):
        return [r for r in self.requests if r.method != "GET"]

    # --- JSON shapes -------------------------------------------------------------------
    def repo_json(self):
        return {
            "id": 1, "name": self.name, "full_name": self.full_name, "owner": {"login": self.owner, "type": "Organization"},
            "default_branch": self.default_branch, "url": self.repo_url, "html_url": f"https://github.test/{self.full_name}",
            "private": True,
        }

    def ref_json(self, ref):
        return {"ref": f"refs/{ref}", "url": f"{self.repo_url}/git/refs/{ref}",
                "object": {"sha": self.refs[ref], "type": "commit", "url": f"{self.repo_url}/git/commits/{self.refs[ref]}"}}

    def commit_json(self, sha):
        c = self.commits[sha]
        return {"sha": sha, "url": f"{self.repo_url}/git/commits/{sha}", "message": c["message"],
                "author": c["author"], "committer": c["committer"],
                "tree": {"sha": c["tree"], "url": f"{self.repo_url}/git/trees/{c['tree']}"},
                "parents": [{"sha": p, "url": f"{self.repo_url}/git/commits/{p}"} for p in c["parents"]]}

    def tree_json(self, sha):
        return {"sha": sha, "url": f"{self.repo_url}/git/trees/{sha}", "truncated": False,
                "tree": [dict(e, url=f"{self.repo_url}/git/blobs/{e['sha']}") for e in self.trees[sha]]}

    def pull_json(self, pr):
        n = pr["number"]
        return {
            "number": n, "id": 1000 + n, "state": pr["state"], "title": pr["title"], "body": pr["body"],
            "url": f"{self.repo_url}/pulls/{n}", "html_url": f"https://github.test/{self.full_name}/pull/{n}",
            "issue_url": f"{self.repo_url}/issues/{n}", "comments_url": f"{self.repo_url}/issues/{n}/comments",
            "head": {"ref": pr["head_ref"], "label": f"{self.owner}:{pr['head_ref']}",
                     "sha": self.refs.get(f"heads/{pr['head_ref']}", ""), "repo": self.repo_json()},
            "base": {"ref": pr["base_ref"], "label": f"{self.owner}:{pr['base_ref']}", "repo": self.repo_json()},
            "merged_at": pr["merged_at"], "merged": bool(pr["merged_at"]), "created_at": pr["created_at"],
            "updated_at": pr["created_at"], "closed_at": None if pr["state"] == "open" else _now(),
            "labels": [self.label_json(name) for name in pr["labels"]], "user": {"login": "skillsmith[bot]"},
        }

    def label_json(self, name):
        label = self.labels[name]
        return {"name": name, "color": label["color"], "description": label.get("description"),
                "url": f"{self.repo_url}/labels/{name}"}

    # --- dispatch ------------------------------------------------------------------------
    def handle(self, method, path, query, body):
        """-> (status, json). Paths are relative to the repository."""
        if method == "GET" and path == "":
            return 200, self.repo_json()
        m = re.fullmatch(r"/git/refs?/(heads/.+)", path)
        if m and method == "GET":
            ref = m.group(1)
            if ref not in self.refs:
                return 404, {"message": "Not Found"}
            return 200, self.ref_json(ref)
        if m and method == "PATCH":
            ref = m.group(1)
            if ref not in self.refs:
                return 422, {"message": "Reference does not exist"}
            if body["sha"] not in self.commits:
                return 422, {"message": "Object does not exist"}
            if not body.get("force") and not self._is_ancestor(self.refs[ref], body["sha"]):
                return 422, {"message": "Update is not a fast forward"}
            self.refs[ref] = body["sha"]
            return 200, self.ref_json(ref)
        if path == "/git/refs" and method == "POST":
            ref = body["ref"].removeprefix("refs/")
            if ref in self.refs:
                return 422, {"message": "Reference already exists"}
            self.refs[ref] = body["sha"]
            return 201, self.ref_json(ref)
        if path == "/git/blobs" and method == "POST":
            content = base64.b64decode(body["content"]) if body.get("encoding") == "base64" else body["content"].encode()
            sha = self.add_blob(content)
            return 201, {"sha": sha, "url": f"{self.repo_url}/git/blobs/{sha}"}
        if path == "/git/trees" and method == "POST":
            entries = {e["path"]: e for e in self.trees[body["base_tree"]]} if body.get("base_tree") else {}
            for e in body["tree"]:
                entries[e["path"]] = {"path": e["path"], "mode": e["mode"], "type": e["type"], "sha": e["sha"]}
            return 201, self.tree_json(self.add_tree(list(entries.values())))
        m = re.fullmatch(r"/git/trees/([0-9a-f]+)", path)
        if m and method == "GET":
            return (200, self.tree_json(m.group(1))) if m.group(1) in self.trees else (404, {"message": "Not Found"})
        if path == "/git/commits" and method == "POST":
            a = body.get("author") or {"name": "token owner", "email": "owner@example.com"}
            c = body.get("committer") or a
            sha = self.add_commit(body["message"], body["tree"], body["parents"], a["name"], a["email"])
            self.commits[sha]["committer"] = dict(self.commits[sha]["committer"], name=c["name"], email=c["email"])
            return 201, self.commit_json(sha)
        m = re.fullmatch(r"/git/commits/([0-9a-f]+)", path)
        if m and method == "GET":
            return (200, self.commit_json(m.group(1))) if m.group(1) in self.commits else (404, {"message": "Not Found"})
        if path == "/pulls" and method == "GET":
            state = query.get("state", ["open"])[0]
            head = query.get("head", [None])[0]
            found = [p for p in self.pulls if (state == "all" or p["state"] == state)
                     and (head is None or f"{self.owner}:{p['head_ref']}" == head)]
            if query.get("direction", ["desc"])[0] == "desc":
                found = list(reversed(found))
            return 200, [self.pull_json(p) for p in found]
        if path == "/pulls" and method == "POST":
            if f"heads/{body['head']}" not in self.refs:
                return 422, {"message": "Validation Failed", "errors": [{"field": "head", "code": "invalid"}]}
            if any(p["state"] == "open" and p["head_ref"] == body["head"] for p in self.pulls):
                return 422, {"message": "Validation Failed",
                             "errors": [{"message": f"A pull request already exists for {self.owner}:{body['head']}."}]}
            pr = {"number": len(self.pulls) + 1, "state": "open", "title": body["title"], "body": body.get("body", ""),
                  "head_ref": body["head"], "base_ref": body["base"], "merged_at": None, "created_at": _now(),
                  "labels": []}
            self.pulls.append(pr)
            return 201, self.pull_json(pr)
        m = re.fullmatch(r"/pulls/(\d+)", path)
        if m:
            pr = self.pulls[int(m.group(1)) - 1]
            if method == "PATCH":
                for key in ("title", "body", "state"):
                    if key in body:
                        pr[key] = body[key]
            return 200, self.pull_json(pr)
        m = re.fullmatch(r"/issues/(\d+)/comments", path)
        if m:
            n = int(m.group(1))
            items = self.comments.setdefault(n, [])
            if method == "POST":
                items.append({"id": len(items) + 1, "body": body["body"], "user": {"login": "skillsmith[bot]"},
                              "url": f"{self.repo_url}/issues/comments/{len(items) + 1}", "created_at": _now()})
                return 201, items[-1]
            return 200, items
        m = re.fullmatch(r"/issues/(\d+)/labels", path)
        if m and method == "POST":
            pr = self.pulls[int(m.group(1)) - 1]
            names = body["labels"] if isinstance(body, dict) else body
            for name in names:
                if name not in self.labels:
                    self.labels[name] = {"color": "ededed"}
                if name not in pr["labels"]:
                    pr["labels"].append(name)
            return 200, [self.label_json(n) for n in pr["labels"]]
        m = re.fullmatch(r"/labels/(.+)", path)
        if m and method == "GET":
            name = unquote(m.group(1))
            return (200, self.label_json(name)) if name in self.labels else (404, {"message": "Not Found"})
        if path == "/labels" and method == "POST":
            if body["name"] in self.labels:
                return 422, {"message": "Validation Failed", "errors": [{"code": "already_exists"}]}
            self.labels[body["name"]] = {"color": body.get("color"), "description": body.get("description")}
            return 201, self.label_json(body["name"])
        return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}

    def installation_token(self, authorization: str):
        """A GitHub App exchanges its JWT (signed with the app's key) for an installation token."""
        import jwt

        if not authorization.startswith("Bearer "):
            return 401, {"message": "A JSON web token could not be decoded"}
        try:
            claims = jwt.decode(authorization[7:], self.app_public_key, algorithms=["RS256"],
                                options={"verify_signature": self.app_public_key is not None})
        except jwt.PyJWTError:
            return 401, {"message": "A JSON web token could not be decoded"}
        if str(claims.get("iss")) != str(self.app_id):
            return 401, {"message": "Integration not found"}
        return 201, {"token": self.token, "expires_at": "2099-01-01T00:00:00Z", "permissions": {}}

    def _is_ancestor(self, old, new):
        todo = [new]
        while todo:
            sha = todo.pop()
            if sha == old:
                return True
            todo.extend(self.commits[sha]["parents"])
        return False


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeGitHub/1"
    disable_nagle_algorithm = True  # one round trip per request, not a delayed-ACK wait
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _dispatch(self):
        fake: FakeGitHub = self.server.fake
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        query = parse_qs(parts.query)
        with fake.lock:
            fake.requests.append(Recorded(self.command, parts.path, query, body, dict(self.headers)))
            failure = next((f for f in fake.failures if f.method == self.command and re.search(f.path_re, parts.path)), None)
            if failure and failure.skip:
                failure.skip -= 1
                failure = None
            if failure:
                fake.failures.remove(failure)
            if failure and not failure.after:
                return self._send(failure.status, failure.body, failure.headers)
            if self.command == "POST" and parts.path == f"/app/installations/{fake.installation_id}/access_tokens":
                return self._send(*fake.installation_token(self.headers.get("Authorization", "")))
            if self.headers.get("Authorization") != f"token {fake.token}" and self.headers.get("Authorization") != f"Bearer {fake.token}":
                return self._send(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
            prefix = f"/repos/{fake.full_name}"
            if parts.path.startswith(prefix) and (len(parts.path) == len(prefix) or parts.path[len(prefix)] == "/"):
                status, data = fake.handle(self.command, parts.path[len(prefix):], query, body)
            else:
                status, data = 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
            if failure:  # the write went through, the answer is lost
                return self._send(failure.status, failure.body, failure.headers)
            return self._send(status, data)

    def _send(self, status, data, headers=None):
        if status == 0:  # the connection drops: the client never learns what happened
            self.close_connection = True
            self.connection.shutdown(2)
            return
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch


class GitHubAPIServer:
    """``with GitHubAPIServer() as server:`` -> ``server.url`` (the API base) and ``server.fake`` (state)."""

    def __init__(self, **kwargs):
        self.fake = FakeGitHub(**kwargs)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.fake = self.fake
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.fake.base_url = self.url
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

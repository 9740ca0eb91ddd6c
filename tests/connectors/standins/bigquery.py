"""A BigQuery stand-in: Google's OAuth token endpoint and the BigQuery REST API v2.

A service account key's `token_uri` points here: google-auth POSTs a JWT bearer grant whose
assertion is signed RS256 with the key; the stand-in checks the signature with the key pair's
public half and the claims, and answers an access token. Queries are `jobs.query` (`POST
/bigquery/v2/projects/{project}/queries`) with `Authorization: Bearer <that token>`; rows come
`page_rows` at a time, the next pages through `getQueryResults` (`GET .../queries/{jobId}`),
as JSON (`{"f": [{"v": "text"}]}`, timestamps in microseconds as the client asks).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.connectors.standins import Answer, Request, StandIn

GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # google-auth's audience, whatever the token_uri
BIGQUERY_SCOPE = "https://www.googleapis.com/auth/bigquery"


@dataclass
class Result:
    fields: list[dict[str, str]]  # the schema: {"name", "type", "mode"}
    rows: list[list[str | None]]  # each value as BigQuery's JSON gives it


@dataclass
class Failure:
    status: int
    reason: str  # e.g. "invalidQuery", "notFound"
    message: str


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class BigQueryStandIn(StandIn):
    def __init__(
        self,
        *,
        project: str,
        dataset: str,
        location: str,
        client_email: str,
        key_id: str,
        public_key: rsa.RSAPublicKey,
        job_timeout_ms: int,
        page_rows: int = 2,
    ) -> None:
        super().__init__()
        self.project, self.dataset, self.location = project, dataset, location
        self.client_email, self.key_id, self.public_key = client_email, key_id, public_key
        self.job_timeout_ms = job_timeout_ms
        self.page_rows = page_rows
        # SQLAlchemy's pre-ping of a pooled connection; the tests add theirs.
        self.results: dict[str, Result] = {
            "SELECT 1": Result([{"name": "f0_", "type": "INTEGER", "mode": "NULLABLE"}], [["1"]])
        }
        self.failures: dict[str, Failure] = {}
        self.queries: list[dict[str, Any]] = []  # the jobs.query bodies, in order
        self.tokens: set[str] = set()
        self._jobs: dict[str, Result] = {}

    def answer(self, request: Request) -> Answer:
        prefix = f"/bigquery/v2/projects/{self.project}/queries"
        if request.method == "POST" and request.path == "/token":
            return self._token(request)
        if not request.path.startswith(f"/bigquery/v2/projects/{self.project}/"):
            return self.problem(f"unexpected {request.method} {request.path}", _error(404, "notFound", "Not found"))
        header = request.headers.get("authorization", "")
        if header.removeprefix("Bearer ") not in self.tokens or not header.startswith("Bearer "):
            return self.problem(
                f"{request.path} with authorization {header[:20]!r}",
                _error(401, "authError", "Request had invalid authentication credentials."),
            )
        if request.method == "POST" and request.path == prefix:
            return self._query(json.loads(request.body))
        if request.method == "GET" and request.path.startswith(prefix + "/"):
            return self._page(request.path.rsplit("/", 1)[1], request.query)
        if request.method == "GET" and request.path.startswith(f"/bigquery/v2/projects/{self.project}/jobs/"):
            return self._job(request.path.rsplit("/", 1)[1])
        return self.problem(f"unexpected {request.method} {request.path}", _error(404, "notFound", "Not found"))

    def _token(self, request: Request) -> Answer:
        form = dict(item.split("=", 1) for item in request.body.decode().split("&"))
        if form.get("grant_type") != "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer":
            return self.problem(
                f"grant {form.get('grant_type')}", Answer.json({"error": "unsupported_grant_type"}, 400)
            )
        head, payload, signature = form["assertion"].split(".")
        try:
            self.public_key.verify(
                _b64decode(signature), f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:  # a key that is not the service account's: a scenario of the tests
            return Answer.json({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, 400)
        header, claims = json.loads(_b64decode(head)), json.loads(_b64decode(payload))
        expected = {"alg": "RS256", "typ": "JWT", "kid": self.key_id}
        checks = {
            "header": header == expected,
            "iss": claims.get("iss") == self.client_email,
            "aud": claims.get("aud") == GOOGLE_TOKEN_AUDIENCE,
            "scope": BIGQUERY_SCOPE in claims.get("scope", "").split(),
            "lifetime": claims.get("exp", 0) - claims.get("iat", 0) == 3600 and abs(claims["iat"] - time.time()) < 60,
        }
        if not all(checks.values()):
            failed = [name for name, ok in checks.items() if not ok]
            return self.problem(f"JWT {failed}: {header} {claims}", Answer.json({"error": "invalid_grant"}, 400))
        token = f"ya29.standin-{uuid.uuid4().hex}"
        self.tokens.add(token)
        return Answer.json({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _query(self, body: dict[str, Any]) -> Answer:
        self.queries.append(body)
        expected = {
            "useLegacySql": False,
            "location": self.location,
            "defaultDataset": {"projectId": self.project, "datasetId": self.dataset},
            "jobTimeoutMs": str(self.job_timeout_ms),
        }
        got = {name: body.get(name) for name in expected}
        if got != expected:
            return self.problem(f"jobs.query with {got}", _error(400, "invalid", "Invalid request"))
        sql = body["query"]
        if sql in self.failures:
            failure = self.failures[sql]
            return _error(failure.status, failure.reason, failure.message)
        if sql not in self.results:
            return self.problem(f"unknown SQL {sql!r}", _error(400, "invalidQuery", "Syntax error"))
        job_id = f"job_{uuid.uuid4().hex}"
        self._jobs[job_id] = self.results[sql]
        return Answer.json({"kind": "bigquery#queryResponse", "jobComplete": True, **self._rows(job_id, 0)})

    def _job(self, job_id: str) -> Answer:
        """jobs.get: the client asks for the job (its destination table) before reading more pages."""
        if job_id not in self._jobs:
            return self.problem(f"jobs.get of {job_id}", _error(404, "notFound", f"Not found: Job {job_id}"))
        reference = {"projectId": self.project, "jobId": job_id, "location": self.location}
        destination = {"projectId": self.project, "datasetId": "_standin", "tableId": f"anon{job_id}"}
        now = str(int(time.time() * 1000))
        return Answer.json(
            {
                "kind": "bigquery#job",
                "id": f"{self.project}:{self.location}.{job_id}",
                "jobReference": reference,
                "configuration": {"jobType": "QUERY", "query": {"destinationTable": destination}},
                "status": {"state": "DONE"},
                "statistics": {"creationTime": now, "startTime": now, "endTime": now, "query": {}},
            }
        )

    def _page(self, job_id: str, query: dict[str, str]) -> Answer:
        if job_id not in self._jobs or query.get("location") != self.location or "pageToken" not in query:
            return self.problem(f"getQueryResults of {job_id} with {query}", _error(404, "notFound", "Not found"))
        page = self._rows(job_id, int(query["pageToken"]))
        return Answer.json({"kind": "bigquery#getQueryResultsResponse", "jobComplete": True, **page})

    def _rows(self, job_id: str, start: int) -> dict[str, Any]:
        result = self._jobs[job_id]
        end = start + self.page_rows
        page: dict[str, Any] = {
            "jobReference": {"projectId": self.project, "jobId": job_id, "location": self.location},
            "schema": {"fields": result.fields},
            "rows": [{"f": [{"v": value} for value in row]} for row in result.rows[start:end]],
            "totalRows": str(len(result.rows)),
            "cacheHit": False,
        }
        if end < len(result.rows):
            page["pageToken"] = str(end)
        return page


def _error(status: int, reason: str, message: str) -> Answer:
    error = {"code": status, "message": message, "errors": [{"message": message, "domain": "global", "reason": reason}]}
    return Answer.json({"error": error}, status)

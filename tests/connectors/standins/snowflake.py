"""A Snowflake stand-in: the REST API snowflake-connector-python (its Rust core) speaks.

`POST /session/v1/login-request?databaseName=&schemaName=&warehouse=&roleName=` with a JSON
body `{"data": {"ACCOUNT_NAME", "LOGIN_NAME", "PASSWORD", ...}}` answers a session token;
each statement is `POST /queries/v1/query-request` with `Authorization: Snowflake
Token="<token>"` and `{"sqlText": ...}`, answered in Snowflake's JSON result format (`rowtype`
+ `rowset`, every value as text: numbers, days since the epoch for dates, seconds with nine
decimals for timestamps). The driver also sends its telemetry and, on close, a logout.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from tests.connectors.standins import Answer, Request, StandIn

SERVER_VERSION = "9.38.2"


def column(name: str, kind: str, **extra: Any) -> dict[str, Any]:
    """One `rowtype` entry, e.g. column("AMOUNT", "fixed", precision=10, scale=2)."""
    base = {"name": name, "type": kind, "nullable": True, "precision": None, "scale": None, "length": None}
    return {**base, "byteLength": None, "database": "", "schema": "", "table": "", "collation": None, **extra}


@dataclass
class Result:
    rowtype: list[dict[str, Any]]
    rowset: list[list[str | None]]


@dataclass
class Failure:
    code: str  # Snowflake's error code, e.g. "002003"
    sql_state: str
    message: str


class SnowflakeStandIn(StandIn):
    def __init__(
        self, *, account: str, user: str, password: str, database: str, schema: str, warehouse: str, role: str
    ) -> None:
        super().__init__()
        self.account, self.user, self.password = account, user, password
        self.context = {"databaseName": database, "schemaName": schema, "warehouse": warehouse, "roleName": role}
        self.results: dict[str, Result] = {
            # What snowflake-sqlalchemy runs on connecting, and SQLAlchemy's pre-ping.
            "ALTER SESSION SET autocommit=false": Result(
                [column("status", "text")], [["Statement executed successfully."]]
            ),
            "SELECT CURRENT_VERSION()": Result([column("CURRENT_VERSION()", "text")], [[SERVER_VERSION]]),
            "select current_database(), current_schema();": Result(
                [column("CURRENT_DATABASE()", "text"), column("CURRENT_SCHEMA()", "text")], [[database, schema]]
            ),
            "SELECT 1": Result([column("1", "fixed", precision=1, scale=0)], [["1"]]),
            # SQLAlchemy's pool ends each use of a connection with a rollback.
            "ROLLBACK": Result([column("status", "text")], [["Statement executed successfully."]]),
        }
        self.failures: dict[str, Failure] = {}
        self.delays: dict[str, float] = {}  # seconds a statement takes
        self.statements: list[dict[str, Any]] = []  # the bodies of the query requests, in order
        self.logins: list[dict[str, Any]] = []  # the `data` of the login requests
        self.tokens: set[str] = set()

    def answer(self, request: Request) -> Answer:
        if request.method != "POST":
            return self.problem(f"unexpected {request.method} {request.path}", Answer(405, b""))
        if request.path == "/session/v1/login-request":
            return self._login(request)
        if request.path == "/queries/v1/query-request":
            return self._query(request)
        if request.path in ("/telemetry/send", "/queries/v1/abort-request") or (
            request.path == "/session" and request.query.get("delete") == "true"
        ):
            if not self._token(request):
                return self.problem(f"{request.path} without a session token", _failure("390112", "08001", "expired"))
            return Answer.json({"success": True, "code": None, "message": None, "data": None})
        return self.problem(f"unexpected POST {request.path}", Answer(404, b""))

    def _token(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        token = header.removeprefix('Snowflake Token="').removesuffix('"')
        return token if header.startswith('Snowflake Token="') and token in self.tokens else None

    def _login(self, request: Request) -> Answer:
        data = json.loads(request.body)["data"]
        self.logins.append(data)
        context = {name: request.query.get(name) for name in self.context}
        if context != self.context or request.headers.get("content-type") != "application/json":
            return self.problem(
                f"login for {context}", _failure("390201", "08004", "The requested database does not exist")
            )
        if (data.get("ACCOUNT_NAME"), data.get("LOGIN_NAME")) != (self.account, self.user):
            return self.problem(f"login as {data.get('LOGIN_NAME')!r} of {data.get('ACCOUNT_NAME')!r}", _bad_login())
        if data.get("PASSWORD") != self.password:
            return _bad_login()  # a scenario of the tests, not a problem
        token = f"token-{uuid.uuid4().hex}"
        self.tokens.add(token)
        return Answer.json(
            {
                "success": True,
                "code": None,
                "message": None,
                "data": {
                    "token": token,
                    "masterToken": f"master-{uuid.uuid4().hex}",
                    "validityInSeconds": 3600,
                    "masterValidityInSeconds": 14400,
                    "sessionId": 1172562260161,
                    "serverVersion": SERVER_VERSION,
                    "parameters": [{"name": "TIMEZONE", "value": "UTC"}],
                    "sessionInfo": {
                        "databaseName": self.context["databaseName"],
                        "schemaName": self.context["schemaName"],
                        "warehouseName": self.context["warehouse"],
                        "roleName": self.context["roleName"],
                    },
                },
            }
        )

    def _query(self, request: Request) -> Answer:
        if self._token(request) is None:
            return self.problem("a query without a valid session token", _failure("390112", "08001", "expired"))
        body = json.loads(request.body)
        self.statements.append(body)
        sql = body["sqlText"]
        time.sleep(self.delays.get(sql, 0))
        if sql in self.failures:
            failure = self.failures[sql]
            return _failure(failure.code, failure.sql_state, failure.message)
        if sql not in self.results:
            return self.problem(f"unknown SQL {sql!r}", _failure("001003", "42000", "SQL compilation error"))
        result = self.results[sql]
        return Answer.json(
            {
                "success": True,
                "code": None,
                "message": None,
                "data": {
                    "queryId": str(uuid.uuid4()),
                    "queryResultFormat": "json",
                    "rowtype": result.rowtype,
                    "rowset": result.rowset,
                    "total": len(result.rowset),
                    "returned": len(result.rowset),
                    "parameters": [],
                    "finalDatabaseName": self.context["databaseName"],
                    "finalSchemaName": self.context["schemaName"],
                    "finalWarehouseName": self.context["warehouse"],
                    "finalRoleName": self.context["roleName"],
                    "statementTypeId": 4096,
                    "version": 1,
                },
            }
        )


def _failure(code: str, sql_state: str, message: str) -> Answer:
    return Answer.json(
        {"success": False, "code": code, "message": message, "data": {"sqlState": sql_state, "errorCode": code}}
    )


def _bad_login() -> Answer:
    return _failure("390100", "08004", "Incorrect username or password was specified.")

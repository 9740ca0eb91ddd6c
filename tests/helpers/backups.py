"""Backups in tests: an app with something in every part a backup holds, and `.tar` files
made as the download makes them, or crafted as an attacker would."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from toucan.backup import archive, tarball

SALES = "country,revenue\nFrance,10\nSpain,20\nFrance,5\n"
SOURCE = b"country;revenue\nFrance;10\nSpain;20\n"
ETL = {
    "DATA_SOURCES": [{"domain": "raw_sales", "file": "sales.csv", "separator": ";"}],
    "DATA_PROVIDERS": [
        {
            "name": "shop",
            "type": "http_api",
            "baseroute": "https://shop.example.com",
            "headers": {"Authorization": "Bearer {{ secrets.shop_token }}"},
        }
    ],
}
FRONT = {"slides": [{"id": "s1", "title": "Sales by country"}]}


def make_app(client: TestClient, admin: dict[str, str], app: str, *, sales: str = SALES) -> None:
    """An app with a front config, an ETL config using a secret, an uploaded file and a domain."""
    assert client.post("/small-apps", json={"id": app, "name": app.title()}, headers=admin).status_code == 201
    assert client.put(f"/{app}/secrets/shop_token", json={"value": "tok-123"}, headers=admin).status_code == 204
    assert client.put(f"/{app}/config/etl?stage=staging", json=ETL, headers=admin).status_code == 200
    assert client.put(f"/{app}/config?stage=staging", json=FRONT, headers=admin).status_code == 200
    uploaded = client.post(
        f"/{app}/data/sources",
        files={"file": ("sales.csv", SOURCE)},
        data={"data": json.dumps({"filename": "sales.csv"})},
        headers=admin,
    )
    assert uploaded.status_code == 201, uploaded.text
    put = client.put(f"/{app}/domain/sales?stage=staging", content=sales, headers={**admin, "Content-Type": "text/csv"})
    assert put.status_code == 200, put.text


def rows(client: TestClient, headers: dict[str, str], app: str, domain: str = "sales") -> list[dict[str, Any]]:
    response = client.post(
        f"/{app}/data?stage=staging", json={"query": [{"name": "domain", "domain": domain}]}, headers=headers
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def state_of(client: TestClient, admin: dict[str, str], app: str) -> dict[str, Any]:
    """What a restore could change about an app, as the API shows it (None parts when it is gone)."""
    found = client.get(f"/small-apps/{app}", headers=admin)
    if found.status_code == 404:
        return {"exists": False}
    return {
        "exists": True,
        "app": found.json(),
        "front": client.get(f"/{app}/config?stage=staging", headers=admin).json(),
        "etl": client.get(f"/{app}/config/etl?stage=staging", headers=admin).json(),
        "sources": client.get(f"/{app}/data/sources", headers=admin).json(),
        "rows": rows(client, admin, app),
    }


def members_of(folder: Path) -> dict[str, bytes]:
    """The backup's files in the download's order: laputa_version, manifest.json, database, storage."""
    return {name: (folder / name).read_bytes() for name in tarball.MEMBERS}


def tar_of(entries: list[tuple[str, bytes | tarfile.TarInfo]], mode: str = "w") -> bytes:
    """A `.tar` of (name, content) files, or of TarInfo entries as given (links, devices…)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tar:  # type: ignore[call-overload]
        for name, content in entries:
            if isinstance(content, tarfile.TarInfo):
                tar.addfile(content)
                continue
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def backup_tar(folder: Path, files: dict[str, bytes] | None = None, name: str | None = None) -> bytes:
    """The `.tar` of a backup folder, files replaced by `files` where given."""
    content = members_of(folder) | (files or {})
    top = name or folder.name
    return tar_of([(f"{top}/{member}", data) for member, data in content.items()])


def resign(files: dict[str, bytes], **changes: bytes) -> dict[str, bytes]:
    """Files changed and a manifest whose checksums match them: what an attacker who edits a
    backup writes (checksums are integrity, not authenticity)."""
    changed = files | changes
    manifest = json.loads(changed[archive.MANIFEST_FILE])
    for name in archive.CHECKED_FILES:
        digest = archive.HashingWriter(io.BytesIO())
        digest.write(changed[name])
        result = digest.result()
        manifest["files"][name] = {"size": result.size, "sha256": result.sha256}
    changed[archive.MANIFEST_FILE] = json.dumps(manifest).encode()
    return changed

"""`toucan-ctl doctor`: every check an operator needs when something is wrong, each with a
verdict and the fix.

services.py checks what the stack stands on (database, Redis, storage, job system), host.py
what this host gives it (Chromium, fonts, the builder-code sandbox, connector extras), and
public.py the public URLs as a browser sees them (tc-params.js, versions, the Authorization
header, CORS). Checks change nothing and give up quickly on hosts that do not answer.
"""

from __future__ import annotations

from toucan.doctor.findings import Finding, Verdict, first_line, skip
from toucan.doctor.host import check_chromium, check_extras, check_fonts, check_sandbox
from toucan.doctor.public import check_public_urls
from toucan.doctor.services import (
    check_database,
    check_jobs,
    check_redis,
    check_shared_storage,
    check_storage,
    open_database,
)
from toucan.settings import Settings

NEEDS_DATABASE = "needs the database (see its line)"


def run_checks(settings: Settings, *, frontend_url: str | None = None) -> list[Finding]:
    """Run every check, in the order an operator would look; a check that needs a failed one is skipped."""
    findings = check_database(settings)
    database_ok = findings[0].verdict == Verdict.OK
    findings.append(check_redis(settings))
    findings.append(check_storage(settings))
    if database_ok:
        db = open_database(settings)
        try:
            for name, check in (("shared-storage", check_shared_storage), ("jobs", check_jobs)):
                try:
                    findings.append(check(settings, db))
                except Exception as exc:  # e.g. tables missing before migrations: reported, not raised
                    findings.append(skip(name, first_line(exc), "run `toucan-ctl migrate`"))
        finally:
            db.dispose()
    else:
        findings += [skip("shared-storage", NEEDS_DATABASE), skip("jobs", NEEDS_DATABASE)]
    findings.append(check_sandbox(settings))
    findings.append(check_chromium())
    findings.append(check_fonts())
    findings.append(check_extras(settings))
    findings += check_public_urls(settings, frontend_url)
    return findings


def healthy(findings: list[Finding]) -> bool:
    """No check failed (warnings and skips are fine)."""
    return all(f.verdict != Verdict.FAIL for f in findings)


__all__ = ["Finding", "Verdict", "healthy", "run_checks"]

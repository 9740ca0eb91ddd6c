// What the login page says about a failed login, or about a session it could not restore.
import { ApiError } from "./api";
import { t } from "./i18n";

/** The message for an error thrown by a login (an ApiError from the backend, or anything else). */
export function loginErrorMessage(e: unknown): string {
  if (!(e instanceof ApiError)) return String(e);
  if (e.status === 429) return t("login.rate", { n: (e.details as { retry_after?: number } | null)?.retry_after ?? 60 });
  return problemMessage(e.code) ?? (e.status === 0 ? t("login.unreachable") : e.message);
}

/** The message for an error code the login page explains whatever page met it; null for others. */
export function problemMessage(code: string | null): string | null {
  if (code === "missing_authorization") return t("login.stripped");
  if (code === "invalid_credentials") return t("login.bad");
  return null;
}

/** Font Awesome 4 classes for a provider's `icon` (instance settings), e.g. `google` → `fa fa-google`. */
export function iconClass(icon: string): string | null {
  const name = icon.trim().replace(/^fa-/, "");
  return /^[a-z0-9-]+$/.test(name) ? `fa fa-${name}` : null;
}

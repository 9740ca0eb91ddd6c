import { describe, expect, it } from "vitest";
import { ApiError } from "./api";
import { locale } from "./i18n";
import { iconClass, loginErrorMessage, problemMessage } from "./loginMessages";

describe("login messages", () => {
  locale.value = "en";

  it("explains a stripped Authorization header, not the backend's generic 401", () => {
    const stripped = new ApiError(401, "missing_authorization", "This request has no Authorization header.");
    expect(loginErrorMessage(stripped)).toMatch(/did not receive the Authorization header: a proxy/);
    expect(problemMessage("missing_authorization")).toBe(loginErrorMessage(stripped));
  });

  it("says how long to wait when rate limited, and passes other messages through", () => {
    expect(loginErrorMessage(new ApiError(429, "rate_limited", "x", { retry_after: 42 }))).toContain("42 seconds");
    expect(loginErrorMessage(new ApiError(401, "invalid_credentials", "x"))).toBe("Wrong username or password.");
    expect(loginErrorMessage(new ApiError(0, "unreachable", "x"))).toMatch(/cannot be reached/);
    expect(loginErrorMessage(new ApiError(403, "account_disabled", "This account is disabled."))).toBe(
      "This account is disabled.",
    );
    expect(problemMessage(null)).toBeNull();
  });

  it("turns a provider's Font Awesome icon name into classes, and refuses anything else", () => {
    expect(iconClass("google")).toBe("fa fa-google");
    expect(iconClass("fa-building")).toBe("fa fa-building");
    expect(iconClass("")).toBeNull();
    expect(iconClass('x" onclick="y')).toBeNull();
  });
});

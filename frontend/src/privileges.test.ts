import { describe, expect, it } from "vitest";
import { formatPrivileges, parsePrivileges } from "./privileges";

describe("privileges text", () => {
  it("round-trips", () => {
    const parsed = parsePrivileges("sales=view, sales=contribute,hr=view");
    expect(parsed).toEqual({ sales: ["view", "contribute"], hr: ["view"] });
    expect(formatPrivileges(parsed)).toBe("sales=view, sales=contribute, hr=view");
  });

  it("says what is wrong", () => {
    expect(() => parsePrivileges("sales")).toThrow(/app=privilege/);
  });
});

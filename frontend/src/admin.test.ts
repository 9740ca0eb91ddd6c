import { describe, expect, it } from "vitest";
import {
  allowedRoles,
  attributesToRows,
  expiryToIso,
  fromMatrix,
  generatePassword,
  inheritedMatrix,
  isExpired,
  isoToDate,
  mayManage,
  rowsToAttributes,
  samePrivileges,
  searchUsers,
  toMatrix,
  toggle,
  type Privileges,
} from "./admin";

describe("roles", () => {
  it("offers no role above the admin's own", () => {
    expect(allowedRoles("ADMIN")).toEqual(["USER", "ADMIN"]);
    expect(allowedRoles("SUPER_ADMIN")).toEqual(["USER", "ADMIN", "SUPER_ADMIN"]);
    expect(allowedRoles("USER")).toEqual([]);
    expect(allowedRoles(undefined)).toEqual([]);
  });

  it("lets an admin manage plain users and admins but not super admins", () => {
    expect(mayManage("ADMIN", "USER")).toBe(true);
    expect(mayManage("ADMIN", "ADMIN")).toBe(true);
    expect(mayManage("ADMIN", "SUPER_ADMIN")).toBe(false);
    expect(mayManage("SUPER_ADMIN", "SUPER_ADMIN")).toBe(true);
    expect(mayManage("USER", "USER")).toBe(false);
  });
});

describe("privilege matrix", () => {
  it("keeps the highest privilege of each app", () => {
    expect(toMatrix({ sales: ["view", "contribute"], hr: ["validate"], none: [] })).toEqual({
      sales: 2,
      hr: 1,
      none: -1,
    });
    expect(fromMatrix({ sales: 2, hr: 0, none: -1 })).toEqual({ sales: ["contribute"], hr: ["view"] });
  });

  it("ticking grants what a privilege includes, unticking keeps what is below", () => {
    let m = toggle({}, "sales", "validate", true);
    expect(fromMatrix(m)).toEqual({ sales: ["validate"] });
    m = toggle(m, "sales", "view", true); // already included: nothing changes
    expect(fromMatrix(m)).toEqual({ sales: ["validate"] });
    m = toggle(m, "sales", "contribute", true);
    expect(fromMatrix(m)).toEqual({ sales: ["contribute"] });
    m = toggle(m, "sales", "contribute", false);
    expect(fromMatrix(m)).toEqual({ sales: ["validate"] });
    m = toggle(m, "sales", "view", false);
    expect(fromMatrix(m)).toEqual({});
  });

  it("shows the best level a user's groups give each app", () => {
    const groups: { name: string; privileges: Privileges }[] = [
      { name: "a", privileges: { sales: ["view"], hr: ["contribute"] } },
      { name: "b", privileges: { sales: ["validate"] } },
      { name: "c", privileges: { ops: ["view"] } },
    ];
    expect(inheritedMatrix(["a", "b"], groups)).toEqual({ sales: 1, hr: 2 });
    expect(inheritedMatrix([], groups)).toEqual({});
  });

  it("compares privileges by what they grant", () => {
    expect(samePrivileges({ s: ["view", "contribute"] }, { s: ["contribute"] })).toBe(true);
    expect(samePrivileges({ s: ["view"] }, { s: ["contribute"] })).toBe(false);
    expect(samePrivileges({ s: [] }, {})).toBe(true);
  });
});

describe("attributes", () => {
  it("round-trips typed values through rows", () => {
    const attributes = { country: "FR", zone: ["North", "East"], level: 3, manager: false };
    const rows = attributesToRows(attributes);
    expect(rows).toEqual([
      { key: "country", type: "text", value: "FR" },
      { key: "zone", type: "list", value: "North, East" },
      { key: "level", type: "number", value: "3" },
      { key: "manager", type: "boolean", value: "false" },
    ]);
    expect(rowsToAttributes(rows)).toEqual(attributes);
  });

  it("keeps text that looks like a number as text", () => {
    expect(rowsToAttributes([{ key: "zip", type: "text", value: "01234" }])).toEqual({ zip: "01234" });
  });

  it("skips empty rows and names the row that is wrong", () => {
    expect(rowsToAttributes([{ key: " ", type: "text", value: "" }])).toEqual({});
    expect(() => rowsToAttributes([{ key: "", type: "text", value: "FR" }])).toThrow(/needs a name/);
    expect(() =>
      rowsToAttributes([
        { key: "a", type: "text", value: "1" },
        { key: "a ", type: "text", value: "2" },
      ]),
    ).toThrow(/"a" appears twice/);
    expect(() => rowsToAttributes([{ key: "n", type: "number", value: "ten" }])).toThrow(/"n" must be a number/);
    expect(() => rowsToAttributes([{ key: "n", type: "number", value: "" }])).toThrow(/number/);
  });
});

describe("search", () => {
  const users = [
    { username: "alice", role: "ADMIN", groups: ["north"], attributes: { country: "France" } },
    { username: "bob", role: "USER", groups: ["south"], attributes: {} },
  ];
  it("matches every word against name, role, groups and attribute values", () => {
    expect(searchUsers(users, "").map((u) => u.username)).toEqual(["alice", "bob"]);
    expect(searchUsers(users, "BOB").map((u) => u.username)).toEqual(["bob"]);
    expect(searchUsers(users, "north admin").map((u) => u.username)).toEqual(["alice"]);
    expect(searchUsers(users, "france").map((u) => u.username)).toEqual(["alice"]);
    expect(searchUsers(users, "north bob")).toEqual([]);
  });
});

describe("expiry", () => {
  it("expires at the end of the chosen day, in UTC", () => {
    expect(expiryToIso("2030-06-30")).toBe("2030-06-30T23:59:59Z");
    expect(expiryToIso("")).toBeNull();
    expect(() => expiryToIso("30/06/2030")).toThrow(/not a date/);
    expect(isoToDate("2030-06-30T23:59:59+00:00")).toBe("2030-06-30");
    expect(isoToDate(null)).toBe("");
  });

  it("tells an expired account", () => {
    const now = new Date("2030-01-01T00:00:00Z");
    expect(isExpired("2029-12-31T23:59:59Z", now)).toBe(true);
    expect(isExpired("2030-01-02T00:00:00Z", now)).toBe(false);
    expect(isExpired(null, now)).toBe(false);
  });
});

describe("passwords", () => {
  it("draws from the alphabet without look-alikes, at the length asked", () => {
    const password = generatePassword(20);
    expect(password).toHaveLength(20);
    expect(password).toMatch(/^[a-km-zA-HJ-NP-Z2-9]+$/);
    expect(generatePassword(20)).not.toBe(password);
  });

  it("rejects bytes that would make some characters likelier", () => {
    // 255 is above the largest multiple of the alphabet's size: it must be skipped, not wrapped.
    let calls = 0;
    const random = (b: Uint8Array) => {
      calls += 1;
      b.fill(calls === 1 ? 255 : 0);
      return b;
    };
    expect(generatePassword(4, random)).toBe("aaaa");
    expect(calls).toBe(2);
  });
});

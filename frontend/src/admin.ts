// The rules the admin screens follow, kept out of the templates: which roles an admin may hand
// out, the privilege matrix, user attributes as typed rows, searching, expiry dates, passwords.

export type Role = "USER" | "ADMIN" | "SUPER_ADMIN";
export type AppPrivilege = "view" | "validate" | "contribute";
export type Privileges = Record<string, string[]>;

export const ROLES: Role[] = ["USER", "ADMIN", "SUPER_ADMIN"];
// A privilege includes the ones before it: a contributor can also validate and view (auth/roles.py).
export const PRIVILEGES: AppPrivilege[] = ["view", "validate", "contribute"];

const rank = (role: string) => ROLES.indexOf(role as Role);

export function isAdminRole(role: string | undefined): boolean {
  return role !== undefined && rank(role) >= rank("ADMIN");
}

/** The roles `actor` may give: none above their own (the backend refuses the others). */
export function allowedRoles(actor: string | undefined): Role[] {
  if (!isAdminRole(actor)) return [];
  return ROLES.filter((r) => rank(r) <= rank(actor as string));
}

/** Whether `actor` may edit, reset or delete an account of role `target`. */
export function mayManage(actor: string | undefined, target: string): boolean {
  return isAdminRole(actor) && rank(target) <= rank(actor as string);
}

// --- the privilege matrix: one level per app ----------------------------------------------

/** -1 for nothing, else the index in PRIVILEGES of the highest privilege held. */
export type Level = number;
export type Matrix = Record<string, Level>;

export function levelOf(list: string[] | undefined): Level {
  return Math.max(-1, ...(list ?? []).map((p) => PRIVILEGES.indexOf(p as AppPrivilege)));
}

export function toMatrix(privileges: Privileges): Matrix {
  const matrix: Matrix = {};
  for (const [app, list] of Object.entries(privileges)) matrix[app] = levelOf(list);
  return matrix;
}

/** What the API stores: the highest privilege of each app that has one. */
export function fromMatrix(matrix: Matrix): Privileges {
  const out: Privileges = {};
  for (const [app, level] of Object.entries(matrix)) if (level >= 0) out[app] = [PRIVILEGES[level]];
  return out;
}

/** Ticking a privilege grants it (and what it includes); unticking it keeps only what is below it. */
export function toggle(matrix: Matrix, app: string, privilege: AppPrivilege, on: boolean): Matrix {
  const index = PRIVILEGES.indexOf(privilege);
  const current = matrix[app] ?? -1;
  const level = on ? Math.max(current, index) : Math.min(current, index - 1);
  return { ...matrix, [app]: level };
}

/** The level each app gets from a user's groups (to show beside the user's own grants). */
export function inheritedMatrix(groupNames: string[], groups: { name: string; privileges: Privileges }[]): Matrix {
  const out: Matrix = {};
  for (const group of groups.filter((g) => groupNames.includes(g.name)))
    for (const [app, list] of Object.entries(group.privileges)) out[app] = Math.max(out[app] ?? -1, levelOf(list));
  return out;
}

export function samePrivileges(a: Privileges, b: Privileges): boolean {
  return JSON.stringify(fromMatrix(toMatrix(a))) === JSON.stringify(fromMatrix(toMatrix(b)));
}

// --- attributes: the values row-level rules read ({{ user.attributes.country }}) ---------------

export type AttributeType = "text" | "number" | "boolean" | "list";
export interface AttributeRow {
  key: string;
  type: AttributeType;
  value: string;
}

export function attributesToRows(attributes: Record<string, unknown>): AttributeRow[] {
  return Object.entries(attributes).map(([key, value]) => {
    if (Array.isArray(value)) return { key, type: "list", value: value.map(String).join(", ") };
    if (typeof value === "number") return { key, type: "number", value: String(value) };
    if (typeof value === "boolean") return { key, type: "boolean", value: String(value) };
    if (typeof value === "string") return { key, type: "text", value };
    return { key, type: "text", value: JSON.stringify(value) };
  });
}

/** The rows as the API takes them; throws with the row's problem (blank or repeated key, not a number). */
export function rowsToAttributes(rows: AttributeRow[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const row of rows) {
    const key = row.key.trim();
    if (!key && !row.value.trim()) continue; // an empty row left in the form
    if (!key) throw new Error(`The attribute with value "${row.value}" needs a name.`);
    if (key in out) throw new Error(`The attribute "${key}" appears twice.`);
    if (row.type === "number") {
      const n = Number(row.value.trim());
      if (!row.value.trim() || !Number.isFinite(n)) throw new Error(`The attribute "${key}" must be a number.`);
      out[key] = n;
    } else if (row.type === "boolean") out[key] = row.value === "true";
    else if (row.type === "list")
      out[key] = row.value
        .split(",")
        .map((v) => v.trim())
        .filter(Boolean);
    else out[key] = row.value;
  }
  return out;
}

// --- lists ---------------------------------------------------------------------------------

export interface Searchable {
  username: string;
  role: string;
  groups: string[];
  attributes?: Record<string, unknown>;
}

/** Users whose name, role, group or attribute value contains every word of `query`. */
export function searchUsers<T extends Searchable>(users: T[], query: string): T[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return users;
  return users.filter((u) => {
    const text = [u.username, u.role, ...u.groups, ...Object.values(u.attributes ?? {}).map(String)]
      .join(" ")
      .toLowerCase();
    return words.every((w) => text.includes(w));
  });
}

// --- expiry and passwords --------------------------------------------------------------------

/** A date input's "YYYY-MM-DD" as the end of that day in UTC (the account works all that day). */
export function expiryToIso(date: string): string | null {
  if (!date) return null;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(`${date}T23:59:59Z`)))
    throw new Error(`"${date}" is not a date.`);
  return `${date}T23:59:59Z`;
}

export function isoToDate(iso: string | null | undefined): string {
  return iso ? new Date(iso).toISOString().slice(0, 10) : "";
}

export function isExpired(iso: string | null | undefined, now = new Date()): boolean {
  return Boolean(iso) && new Date(iso as string).getTime() <= now.getTime();
}

const PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/** A random password of `length` characters without look-alikes (l, 1, O, 0), from the browser's CSPRNG. */
export function generatePassword(length = 16, random: (bytes: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b)): string {
  const out: string[] = [];
  // Rejection sampling keeps every character equally likely.
  const limit = 256 - (256 % PASSWORD_ALPHABET.length);
  while (out.length < length) {
    for (const byte of random(new Uint8Array(length * 2))) {
      if (byte < limit && out.length < length) out.push(PASSWORD_ALPHABET[byte % PASSWORD_ALPHABET.length]);
    }
  }
  return out.join("");
}

export const MIN_PASSWORD_LENGTH = 8;

// The one typed client of the backend API. Base URL from window.TC_PARAMS (scripts/tc-params.js).

export interface ApiErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public details: unknown = null,
  ) {
    super(message);
  }
}

export interface Me {
  username: string;
  role: "USER" | "ADMIN" | "SUPER_ADMIN";
  groups: string[];
  privileges: Record<string, string[]>;
  attributes: Record<string, unknown>;
}

export interface Provider {
  id: string;
  type: string;
  name: string;
  icon: string;
  discrete: boolean;
  login_url: string | null;
}

export interface SmallApp {
  id: string;
  name: string;
  description: string;
}

export interface Column {
  name: string;
  type: string;
}

export interface DataResult {
  data: Record<string, unknown>[];
  columns: Column[];
  total: number;
  truncated: boolean;
}

export type Stage = "production" | "staging";

const TOKEN_KEY = "toucan.token";

export function apiBase(): string {
  const base = window.TC_PARAMS?.API_BASEROUTE ?? "/_api";
  return base.replace(/\/+$/, "");
}

export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

async function request<T>(method: string, path: string, body?: unknown, auth = true, text = false): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["Content-Type"] = text ? "text/plain" : "application/json";
  const token = getToken();
  if (auth && token) headers.Authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(apiBase() + path, {
      method,
      headers,
      body: body === undefined ? undefined : text ? String(body) : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "unreachable", "The backend cannot be reached.");
  }
  const raw = await response.text();
  const parsed = raw ? safeJson(raw) : null;
  if (!response.ok) {
    const error = (parsed as { error?: ApiErrorBody } | null)?.error;
    throw new ApiError(
      response.status,
      error?.code ?? "http_error",
      error?.message ?? `The backend answered ${response.status}.`,
      error?.details ?? null,
    );
  }
  return (text && response.ok ? raw : parsed) as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export interface UserRecord {
  username: string;
  role: string;
  groups: string[];
  privileges: Record<string, string[]>;
  disabled: boolean;
  expirationDate: string | null;
}

export interface GroupRecord {
  name: string;
  privileges: Record<string, string[]>;
  members: string[];
}

export const api = {
  version: () => request<{ version: string; api_version: string }>("GET", "/", undefined, false),
  providers: () => request<Provider[]>("GET", "/auth/providers", undefined, false),
  login: (username: string, password: string) =>
    request<{ token: string; user: Me }>("POST", "/login", { username, password }, false),
  logout: () => request<{ revoked: boolean }>("POST", "/logout"),
  me: () => request<Me>("GET", "/me"),
  apps: () => request<SmallApp[]>("GET", "/small-apps"),
  createApp: (name: string) => request<SmallApp>("POST", "/small-apps", { name }),
  app: (id: string) => request<SmallApp>("GET", `/small-apps/${encodeURIComponent(id)}`),
  frontConfig: (id: string, stage: Stage) =>
    request<FrontConfig>("GET", `/${encodeURIComponent(id)}/config?stage=${stage}`),
  putFrontConfig: (id: string, config: FrontConfig) =>
    request<FrontConfig>("PUT", `/${encodeURIComponent(id)}/config?stage=staging`, config),
  releaseData: (id: string) => request<unknown>("POST", `/${encodeURIComponent(id)}/data/release`),
  releaseDesign: (id: string) =>
    request<unknown>("POST", `/${encodeURIComponent(id)}/config/operations`, { operations: ["release_design"] }),
  data: (id: string, stage: Stage, query: unknown, variables: Record<string, unknown>, limit?: number) =>
    request<DataResult>("POST", `/${encodeURIComponent(id)}/data?stage=${stage}`, { query, variables, limit }),
  instanceSettings: () => request<string>("GET", "/instance-settings?format=cson", undefined, true, true),
  putInstanceSettings: (cson: string) =>
    request<unknown>("PUT", "/instance-settings?format=cson", cson, true, true),
  users: () => request<UserRecord[]>("GET", "/users"),
  createUser: (user: Partial<UserRecord> & { username: string; password?: string }) =>
    request<UserRecord>("POST", "/users", user),
  updateUser: (username: string, patch: Partial<UserRecord> & { password?: string }) =>
    request<UserRecord>("PATCH", `/users/${encodeURIComponent(username)}`, patch),
  deleteUser: (username: string) => request<null>("DELETE", `/users/${encodeURIComponent(username)}`),
  groups: () => request<GroupRecord[]>("GET", "/groups"),
  createGroup: (name: string, privileges: Record<string, string[]>) =>
    request<GroupRecord>("POST", "/groups", { name, privileges }),
  deleteGroup: (name: string) => request<null>("DELETE", `/groups/${encodeURIComponent(name)}`),
  preview: (id: string, query: unknown, variables: Record<string, unknown>) =>
    request<DataResult>("POST", `/${encodeURIComponent(id)}/query/preview`, { query, variables }),
};

// --- front config ----------------------------------------------------------------------

export interface ChartSpec {
  type: string;
  x?: string;
  y?: string[];
  series?: string;
  value?: string;
  label?: string;
  stacked?: boolean;
  horizontal?: boolean;
  format?: NumberFormat;
  colors?: string[];
  max?: number;
  trend?: string;
  columns?: string[];
}

export interface NumberFormat {
  decimals?: number;
  unit?: string;
  prefix?: string;
  compact?: boolean;
  percent?: boolean;
}

export interface Slide {
  id: string;
  level?: number;
  parent_id?: string | null;
  title?: string;
  narrative?: string;
  chart?: ChartSpec;
  query?: unknown;
  requesters?: string[];
}

export interface Requester {
  id: string;
  label: string;
  type: "dropdown" | "date";
  query?: unknown;
  column?: string;
  default?: string | null;
}

export interface HomeKpi {
  title: string;
  query: unknown;
  value: string;
  format?: NumberFormat;
}

export interface FrontConfig {
  slides?: Slide[];
  home?: { title?: string; description?: string; kpis?: HomeKpi[] };
  requesters?: Requester[];
  [key: string]: unknown;
}

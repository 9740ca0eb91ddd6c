// The one typed client of the backend API. Base URL from window.TC_PARAMS (scripts/tc-params.js).
import type { PermissionRule } from "./adminPermissions";
import type { StepCatalog } from "./pipeline";

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
  /** The interface language the user chose; null: the browser's applies. */
  locale: string | null;
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

// A capture token (the screenshot browser's, from the capture view's address) lives in memory
// only: it must never replace the session of a person who opens a capture link.
let memoryToken: string | null = null;

export function useMemoryToken(token: string | null): void {
  memoryToken = token;
}

export function getToken(): string | null {
  return memoryToken ?? localStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

// The X-Config-Version of each config last read or written by this page, by "app/kind":
// saving sends it in If-Match, so that a save over someone else's newer version is refused
// (409 config_conflict) instead of silently replacing it.
const configVersions = new Map<string, number>();

export function configVersion(app: string, kind: "front" | "etl"): number | null {
  return configVersions.get(`${app}/${kind}`) ?? null;
}

function rememberVersion(app: string, kind: "front" | "etl", response: Response): void {
  const version = Number(response.headers.get("X-Config-Version"));
  if (response.headers.has("X-Config-Version") && Number.isInteger(version)) configVersions.set(`${app}/${kind}`, version);
}

/** How a config is saved: over the version last read (refused if it moved), or over anything. */
export type SaveMode = "checked" | "overwrite";

function ifMatch(app: string, kind: "front" | "etl", mode: SaveMode): Record<string, string> {
  const version = configVersion(app, kind);
  return mode === "checked" && version !== null ? { "If-Match": String(version) } : {};
}

// `text`: the body is sent and the answer returned as text (`contentType` names the body's type).
async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  auth = true,
  text = false,
  contentType = "text/plain",
  extra: { headers?: Record<string, string>; onResponse?: (response: Response) => void } = {},
): Promise<T> {
  const headers: Record<string, string> = { ...extra.headers };
  if (body !== undefined) headers["Content-Type"] = text ? contentType : "application/json";
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
  if (!response.ok) throw errorFrom(response.status, parsed);
  extra.onResponse?.(response);
  return (text && response.ok ? raw : parsed) as T;
}

function errorFrom(status: number, parsed: unknown): ApiError {
  const error = (parsed as { error?: ApiErrorBody } | null)?.error;
  return new ApiError(
    status,
    error?.code ?? "http_error",
    error?.message ?? `The backend answered ${status}.`,
    error?.details ?? null,
  );
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
  attributes: Record<string, unknown>;
  provider?: string | null;
}

/** What a create or update sends: any field of a user, and a new password. */
export type UserInput = Partial<Omit<UserRecord, "provider">> & { password?: string };

export interface GroupRecord {
  name: string;
  privileges: Record<string, string[]>;
  members: string[];
}

// --- data in: uploaded sources, chunked uploads, ETL config, preprocess jobs -----------------

export interface SourceFile {
  filename: string;
  size: number;
  sha256: string;
  uploaded_at: string;
  uploaded_by: string | null;
  rows?: number;
}

export interface UploadSession {
  id: string;
  filename: string;
  size: number;
  offset: number;
}

export type JobState = "queued" | "running" | "succeeded" | "failed";

export interface JobLogLine {
  at: string;
  level: string;
  message: string;
}

export interface Job {
  id: string;
  app: string | null;
  stage: string | null;
  kind: string;
  state: JobState;
  progress: number;
  created_by: string | null;
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
  traceback?: string | null;
  log?: JobLogLine[];
}

export interface DomainInfo {
  name: string;
  rows: number;
  columns: Column[];
}

export interface StageMetadata {
  stage: Stage;
  version: string | null;
  domains: DomainInfo[];
}

// --- releases: what releasing staging changes, the history, rollback --------------------------

export interface StoryRef {
  id: string;
  title: string;
  title_before?: string | null;
}

export interface DesignChanges {
  changed: boolean;
  stories: { added: StoryRef[]; removed: StoryRef[]; changed: StoryRef[]; reordered: boolean };
  home_changed: boolean;
  requesters_changed: boolean;
  configs: { kind: string; changed: boolean }[];
}

export type DomainChangeKind = "added" | "removed" | "changed" | "unchanged";

export interface DomainChange {
  name: string;
  change: DomainChangeKind;
  rows_before: number | null;
  rows_after: number | null;
}

export interface DataChanges {
  changed: boolean;
  version_before: string | null;
  version_after: string | null;
  domains: DomainChange[];
}

export interface StagingVersions {
  configs: Record<string, number>;
  domain_version: string | null;
}

export interface ReleaseDiff {
  design: DesignChanges;
  data: DataChanges;
  staging_has_data: boolean;
  /** What the diff was computed from: sent back with the release. */
  staging_versions?: StagingVersions;
}

/** The details of a 409 config_conflict on saving a config. */
export interface ConfigConflict {
  kind: string;
  expected_version: number;
  current_version: number;
  updated_by: string | null;
  updated_at: string | null;
  changes: {
    keys: string[];
    stories?: { added: StoryRef[]; removed: StoryRef[]; changed: StoryRef[] };
    home_changed?: boolean;
    requesters_changed?: boolean;
  };
}

export interface ReleaseRecord {
  id: number;
  created_at: string;
  created_by: string | null;
  design: boolean;
  data: boolean;
  rollback_of: number | null;
  config_versions: Record<string, number>;
  domain_version: string | null;
  changes: { design: DesignChanges; data: DataChanges };
  can_roll_back: boolean;
  rollback_refused: string | null;
}

const appPath = (id: string) => `/${encodeURIComponent(id)}`;
const uploadPath = (id: string, upload: string) =>
  `${appPath(id)}/data/sources/uploads/${encodeURIComponent(upload)}`;

/** PATCH one chunk of a chunked upload at `offset`; XHR because fetch reports no upload progress. */
function sendChunk(id: string, upload: string, offset: number, chunk: Blob, onProgress: (sent: number) => void) {
  return new Promise<UploadSession>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PATCH", apiBase() + uploadPath(id, upload));
    const token = getToken();
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.setRequestHeader("Upload-Offset", String(offset));
    xhr.setRequestHeader("Content-Type", "application/offset+octet-stream");
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => {
      const parsed = xhr.responseText ? safeJson(xhr.responseText) : null;
      if (xhr.status >= 200 && xhr.status < 300) resolve(parsed as UploadSession);
      else reject(errorFrom(xhr.status, parsed));
    };
    xhr.onerror = () => reject(new ApiError(0, "unreachable", "The connection broke while sending the file."));
    xhr.onabort = () => reject(new ApiError(0, "aborted", "The upload was stopped."));
    xhr.send(chunk);
  });
}

// --- backups (administrators) -----------------------------------------------------------

export interface RestoreReport {
  app: string;
  source_app: string;
  source_version: string;
  /** A dry run's: restore this checked backup without sending it again. */
  upload?: string | null;
  name: string;
  dry_run: boolean;
  replaced: boolean;
  replaced_before: { configs?: string[]; domains?: Record<string, string[]>; source_files?: string[] };
  configs: string[];
  domains: Record<string, string[]>;
  source_files: string[];
  storage_bytes: number;
  privileges: string[];
  privileges_skipped: string[];
  secrets_to_recreate: string[];
}

export interface RestoreOptions {
  newName?: string;
  dryRun: boolean;
  /** A dry run's `upload`: restores the backup it checked, which is not sent again. */
  upload?: string;
}

/** The query string of POST /restore. */
export function restoreQuery({ newName, dryRun, upload }: RestoreOptions): string {
  const query = new URLSearchParams();
  // A checked backup restores under the name it was checked with.
  if (upload) return `?${new URLSearchParams({ upload })}`;
  if (newName?.trim()) query.set("new_name", newName.trim());
  if (dryRun) query.set("dry_run", "true");
  const text = query.toString();
  return text ? `?${text}` : "";
}

/** The file name a download's Content-Disposition gives, else `fallback`. */
export function attachmentName(header: string | null, fallback: string): string {
  const match = header?.match(/filename="?([^";]+)"?/i);
  const name = match?.[1]?.trim();
  // Only a plain name: the browser saves it in the downloads folder.
  return name && !/[\\/]/.test(name) ? name : fallback;
}

/** POST /restore with the backup's .tar as the body (none with `upload`); XHR because fetch
 * reports no upload progress. A dry run answers the report (200), a restore its queued job (202). */
function sendRestore(file: Blob | null, options: RestoreOptions, onProgress: (sent: number) => void) {
  return new Promise<RestoreReport | Job>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", apiBase() + "/restore" + restoreQuery(options));
    const token = getToken();
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    if (file) xhr.setRequestHeader("Content-Type", "application/x-tar");
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => {
      const parsed = xhr.responseText ? safeJson(xhr.responseText) : null;
      if (xhr.status >= 200 && xhr.status < 300) resolve(parsed as RestoreReport | Job);
      else reject(errorFrom(xhr.status, parsed));
    };
    xhr.onerror = () => reject(new ApiError(0, "unreachable", "The connection broke while sending the backup."));
    xhr.send(file);
  });
}

/** GET /{app}/backup/{job}: the .tar, saved by the browser (it keeps a large one on disk, not in the page). */
/** A file name from a chart's title: letters, digits, spaces and dashes, never empty. */
export function exportName(title: string | undefined, fallback = "data"): string {
  const name = (title ?? "").normalize("NFKC").replace(/[^\p{L}\p{N} _-]+/gu, " ").replace(/\s+/g, " ").trim().slice(0, 80);
  return name || fallback;
}

/** POST /{app}/data/export: every row of a data request as CSV or Excel (the caller's row filters applied). */
async function exportData(
  id: string,
  stage: Stage,
  query: unknown,
  variables: Record<string, unknown>,
  format: "csv" | "xlsx",
  title?: string,
): Promise<{ blob: Blob; filename: string; truncated: boolean }> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const name = exportName(title);
  const search = new URLSearchParams({ stage, format, filename: name });
  let response: Response;
  try {
    response = await fetch(`${apiBase()}${appPath(id)}/data/export?${search}`, {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError(0, "unreachable", "The backend cannot be reached.");
  }
  if (!response.ok) throw errorFrom(response.status, safeJson(await response.text()));
  return { blob: await response.blob(), filename: `${name}.${format}`, truncated: response.headers.get("X-Toucan-Truncated") === "true" };
}

async function downloadBackup(id: string, jobId: string): Promise<{ blob: Blob; filename: string }> {
  const headers: Record<string, string> = {};
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(`${apiBase()}${appPath(id)}/backup/${encodeURIComponent(jobId)}`, { headers });
  } catch {
    throw new ApiError(0, "unreachable", "The backend cannot be reached.");
  }
  if (!response.ok) throw errorFrom(response.status, safeJson(await response.text()));
  const filename = attachmentName(response.headers.get("Content-Disposition"), `${id}-backup.tar`);
  return { blob: await response.blob(), filename };
}

export const api = {
  version: () => request<{ version: string; api_version: string }>("GET", "/", undefined, false),
  providers: () => request<Provider[]>("GET", "/auth/providers", undefined, false),
  login: (username: string, password: string) =>
    request<{ token: string; user: Me }>("POST", "/login", { username, password }, false),
  logout: () => request<{ revoked: boolean }>("POST", "/logout"),
  me: () => request<Me>("GET", "/me"),
  setLocale: (locale: string | null) => request<Me>("PATCH", "/me", { locale }),
  apps: () => request<SmallApp[]>("GET", "/small-apps"),
  createApp: (name: string) => request<SmallApp>("POST", "/small-apps", { name }),
  app: (id: string) => request<SmallApp>("GET", `/small-apps/${encodeURIComponent(id)}`),
  updateApp: (id: string, patch: { name?: string; description?: string }) =>
    request<SmallApp>("PATCH", `/small-apps/${encodeURIComponent(id)}`, patch),
  deleteApp: (id: string) => request<null>("DELETE", `/small-apps/${encodeURIComponent(id)}`),
  capturePage: (id: string, stage: Stage, page: string) =>
    request<CapturePage>(
      "GET",
      `${appPath(id)}/capture?stage=${stage}&page=${encodeURIComponent(page)}`,
    ),
  createExport: (id: string, body: ExportRequest) => request<ExportJob>("POST", `${appPath(id)}/exports`, body),
  getExport: (exportId: string) => request<ExportJob>("GET", `/exports/${encodeURIComponent(exportId)}`),
  reports: () => request<{ reports: Report[] }>("GET", "/reports"),
  createReport: (body: ReportInput) => request<Report>("POST", "/reports", body),
  updateReport: (id: number, patch: Partial<ReportInput>) => request<Report>("PATCH", `/reports/${id}`, patch),
  deleteReport: (id: number) => request<null>("DELETE", `/reports/${id}`),
  runReport: (id: number) => request<ReportRun>("POST", `/reports/${id}/run`),
  reportRuns: (id: number) => request<{ runs: ReportRun[] }>("GET", `/reports/${id}/runs`),
  reportPdf,
  frontConfig: (id: string, stage: Stage) =>
    request<FrontConfig>("GET", `/${encodeURIComponent(id)}/config?stage=${stage}`, undefined, true, false, "", {
      onResponse: (r) => (stage === "staging" ? rememberVersion(id, "front", r) : undefined),
    }),
  /** Saves over the version last read (409 config_conflict when it moved) unless `mode` is "overwrite". */
  putFrontConfig: (id: string, config: FrontConfig, mode: SaveMode = "checked") =>
    request<FrontConfig>("PUT", `/${encodeURIComponent(id)}/config?stage=staging`, config, true, false, "", {
      headers: ifMatch(id, "front", mode),
      onResponse: (r) => rememberVersion(id, "front", r),
    }),
  data: (id: string, stage: Stage, query: unknown, variables: Record<string, unknown>, limit?: number) =>
    request<DataResult>("POST", `/${encodeURIComponent(id)}/data?stage=${stage}`, { query, variables, limit }),
  instanceSettings: () => request<string>("GET", "/instance-settings?format=cson", undefined, true, true),
  putInstanceSettings: (cson: string) =>
    request<unknown>("PUT", "/instance-settings?format=cson", cson, true, true),
  users: () => request<UserRecord[]>("GET", "/users"),
  createUser: (user: UserInput & { username: string }) => request<UserRecord>("POST", "/users", user),
  updateUser: (username: string, patch: UserInput) =>
    request<UserRecord>("PATCH", `/users/${encodeURIComponent(username)}`, patch),
  deleteUser: (username: string) => request<null>("DELETE", `/users/${encodeURIComponent(username)}`),
  groups: () => request<GroupRecord[]>("GET", "/groups"),
  createGroup: (group: Partial<GroupRecord> & { name: string }) => request<GroupRecord>("POST", "/groups", group),
  updateGroup: (name: string, patch: Partial<GroupRecord>) =>
    request<GroupRecord>("PATCH", `/groups/${encodeURIComponent(name)}`, patch),
  deleteGroup: (name: string) => request<null>("DELETE", `/groups/${encodeURIComponent(name)}`),
  preview: (id: string, query: unknown, variables: Record<string, unknown>, limit?: number) =>
    request<DataResult>("POST", `/${encodeURIComponent(id)}/query/preview`, { query, variables, limit }),
  /** A chart checked against its data request's columns on staging: 400 naming a missing column. */
  checkChart: (id: string, chart: unknown, query: unknown, variables: Record<string, unknown>) =>
    request<{ columns: Column[] }>("POST", `${appPath(id)}/charts/check`, { chart, query, variables }),
  /** The pipeline builder: the step language (a JSON Schema per step) and previews on a stage. */
  pipelineSteps: () => request<StepCatalog>("GET", "/pipeline-steps"),
  previewOn: (id: string, stage: Stage, query: unknown, variables: Record<string, unknown>) =>
    request<DataResult>("POST", `/${encodeURIComponent(id)}/query/preview?stage=${stage}`, { query, variables }),
  sources: (id: string) => request<{ sources: SourceFile[] }>("GET", `${appPath(id)}/data/sources`),
  deleteSource: (id: string, filename: string) =>
    request<null>("DELETE", `${appPath(id)}/data/sources/${encodeURIComponent(filename)}`),
  startUpload: (id: string, filename: string, size: number) =>
    request<UploadSession>("POST", `${appPath(id)}/data/sources/uploads`, { filename, size }),
  uploadState: (id: string, upload: string) => request<UploadSession>("GET", uploadPath(id, upload)),
  sendChunk,
  completeUpload: (id: string, upload: string) => request<SourceFile>("POST", `${uploadPath(id, upload)}/complete`),
  cancelUpload: (id: string, upload: string) => request<null>("DELETE", uploadPath(id, upload)),
  etlConfig: (id: string) =>
    request<Record<string, unknown>>("GET", `${appPath(id)}/config/etl?stage=staging`, undefined, true, false, "", {
      onResponse: (r) => rememberVersion(id, "etl", r),
    }),
  // Sent as the builder typed it, so JSON syntax errors come back with the server's line and column.
  putEtlConfig: (id: string, json: string, mode: SaveMode = "checked") =>
    request<string>("PUT", `${appPath(id)}/config/etl?stage=staging`, json, true, true, "application/json", {
      headers: ifMatch(id, "etl", mode),
      onResponse: (r) => rememberVersion(id, "etl", r),
    }),
  preprocess: (id: string) => request<Job>("POST", `${appPath(id)}/data/preprocess?stage=staging`),
  job: (jobId: string) => request<Job>("GET", `/jobs/${encodeURIComponent(jobId)}`),
  jobs: (id: string) => request<{ jobs: Job[] }>("GET", `${appPath(id)}/jobs`),
  metadata: (id: string, stage: Stage) => request<StageMetadata>("GET", `${appPath(id)}/metadata?stage=${stage}`),
  backup: (id: string) => request<Job>("POST", `${appPath(id)}/backup`),
  downloadBackup,
  exportData,
  sendRestore,
  releaseDiff: (id: string) => request<ReleaseDiff>("GET", `${appPath(id)}/release/diff`),
  /** Staging's design and/or data to production: one release, one history row. With the
   * diff's `staging_versions`, refused (409 config_conflict) when staging moved since the diff. */
  release: (id: string, parts: { design: boolean; data: boolean }, versions?: StagingVersions) =>
    request<{ results: Record<string, unknown> }>("POST", `${appPath(id)}/config/operations`, {
      operations: [...(parts.design ? ["release_design"] : []), ...(parts.data ? ["release_data"] : [])],
      ...(versions ? { staging_versions: versions } : {}),
    }),
  releases: (id: string) => request<{ releases: ReleaseRecord[]; kept: number }>("GET", `${appPath(id)}/releases`),
  rollback: (id: string, release: number) =>
    request<{ release: number; rollback_of: number }>("POST", `${appPath(id)}/releases/${release}/rollback`),
  // Identity providers (super admins): the settings as JSON, a provider tested, an IdP's description read.
  instanceSettingsJson: () => request<Record<string, unknown>>("GET", "/instance-settings?format=json"),
  putInstanceSettingsJson: (document: Record<string, unknown>) =>
    request<{ version: number; warnings: string[] }>("PUT", "/instance-settings?format=json", document),
  testProvider: (provider: Record<string, unknown>, metadataUrl?: string) =>
    request<ProviderCheck>("POST", "/instance-settings/providers/test", {
      provider,
      ...(metadataUrl ? { metadata_url: metadataUrl } : {}),
    }),
  discoverProvider: (type: "OIDC" | "SAML2", url: string) =>
    request<{ type: string; document: Record<string, unknown> }>("POST", "/instance-settings/providers/discover", { type, url }),
  // Data permissions (admins): the staging rules with the domains they can name, saved, previewed as a user.
  // The rules live in the staging ETL config: its version is the ETL editor's (one If-Match for both).
  permissions: (id: string) =>
    request<PermissionRules>("GET", `${appPath(id)}/permissions?stage=staging`, undefined, true, false, "", {
      onResponse: (r) => rememberVersion(id, "etl", r),
    }),
  putPermissions: (id: string, rules: PermissionRule[], mode: SaveMode = "checked") =>
    request<PermissionRules>("PUT", `${appPath(id)}/permissions`, { rules }, true, false, "application/json", {
      headers: ifMatch(id, "etl", mode),
      onResponse: (r) => rememberVersion(id, "etl", r),
    }),
  previewPermissions: (id: string, body: { username: string; domain: string; rules: PermissionRule[]; limit?: number }) =>
    request<PermissionPreview>("POST", `${appPath(id)}/permissions/preview?stage=staging`, body),
};

// --- identity providers and data permissions ------------------------------------------------

export interface ProviderCheck {
  provider: string;
  type: string;
  ok: boolean;
  steps: { name: string; ok: boolean | null; detail: string }[];
}

export interface PermissionRules {
  stage: Stage;
  rules: PermissionRule[];
  domains: DomainInfo[];
  version?: number | null;
}

export interface PermissionPreview {
  domain: string;
  data: Record<string, unknown>[];
  columns: Column[];
  user: { username: string; role: string; groups: string[]; attributes: Record<string, unknown>; disabled: boolean };
  admin: boolean;
  can_view: boolean;
  applied_rules: number[];
  see_all: boolean;
  conditions: Record<string, unknown>[];
  rows_total: number;
  rows_visible: number;
}

// --- front config ----------------------------------------------------------------------

export interface ChartSpec {
  type: string;
  x?: string;
  y?: string[];
  series?: string;
  value?: string;
  label?: string;
  /** Scatter: the column sizing each point, and the one colouring it (a series per value). */
  size?: string;
  color?: string;
  stacked?: boolean;
  horizontal?: boolean;
  format?: NumberFormat;
  colors?: string[];
  max?: number;
  trend?: string;
  columns?: string[];
  /** Axis titles (none when absent). */
  xTitle?: string;
  yTitle?: string;
  /** The legend: shown (default) or not, and where. */
  legend?: { show?: boolean; position?: "top" | "bottom" | "left" | "right" };
  /** Rows sorted by a column before drawing (the data request's order when absent). */
  sort?: { by: string; order?: "asc" | "desc" };
  /** What a KPI's trend compares with ("last year"); the trend column's name when not set. */
  trendLabel?: string;
  /** A waterfall's last bar, the total of its steps ("Total" when not set). */
  totalLabel?: string;
  /** A hierarchy to drill down by clicking (e.g. region → country → city): its category
   * column at each level; the chart's `x` (or `label`) names one of them. */
  drill?: string[];
}

export interface NumberFormat {
  decimals?: number;
  unit?: string;
  prefix?: string;
  compact?: boolean;
  percent?: boolean;
  /** Categories that are dates shown as a day, a month or a year. */
  date?: "day" | "month" | "year";
  /** The number and date locale (e.g. "fr"); the page's language when absent. */
  locale?: string;
}

export interface Slide {
  id: string;
  level?: number;
  parent_id?: string | null;
  title?: string;
  narrative?: string;
  /** Named values of the narrative: `{{ name }}` shows `column` of the first row of `query`. */
  narrative_values?: NarrativeValue[];
  chart?: ChartSpec;
  query?: unknown;
  /** Several charts on one slide, laid out on a grid; `chart` and `query` are then unused. */
  charts?: ChartBlock[];
  requesters?: string[];
}

/** How much of a slide's row a chart of a `charts` list takes (half when absent). */
export type ChartWidth = "quarter" | "third" | "half" | "two-thirds" | "three-quarters" | "full";

export interface NarrativeValue {
  name: string;
  query: unknown;
  column: string;
  format?: NumberFormat;
}

export interface ChartBlock {
  /** Stable across reordering: filters name the charts they apply to by `story/id`. */
  id?: string;
  title?: string;
  chart: ChartSpec;
  query: unknown;
  width?: ChartWidth;
}

export type RequesterType = "dropdown" | "multiselect" | "date" | "daterange" | "search";

export interface DateRangeValue {
  start: string | null;
  end: string | null;
}

export interface Requester {
  id: string;
  label: string;
  type: RequesterType;
  /** Values from a data request (`column` of its rows)… */
  query?: unknown;
  column?: string;
  /** …or a fixed list. */
  options?: (string | number | boolean)[];
  default?: string | string[] | DateRangeValue | null;
  /** The column filtered in the charts it applies to; none: the data requests use the variable. */
  filter_column?: string;
  /** The stories it shows on (all when absent), and the charts (`story/chart`) it filters. */
  stories?: string[];
  charts?: string[];
}

export interface HomeKpi {
  title: string;
  query: unknown;
  value: string;
  format?: NumberFormat;
}

export interface HomeStory {
  story: string;
  title?: string;
  description?: string;
}

export interface Home {
  title?: string;
  description?: string;
  kpis?: HomeKpi[];
  /** The story tiles, in order; every story with a chart when absent. */
  stories?: HomeStory[];
}

export interface CapturePage {
  app: { id: string; name: string };
  stage: Stage;
  page: string;
  slide?: Slide;
  home?: FrontConfig["home"];
  slides?: Slide[];
  /** The filters shown on the page. */
  requesters: Requester[];
  /** Every filter of the app (their variables are sent with each request). */
  all_requesters?: Requester[];
  /** The language of the user the page is captured for (null: never chosen). */
  locale?: string | null;
}

export interface ExportRequest {
  page: "story" | "home" | "report";
  story?: string;
  stories?: string[];
  format: "png" | "pdf";
  stage?: Stage;
  variables?: Record<string, unknown>;
}

export interface ExportJob extends Job {
  download_url?: string | null;
  expires_at?: number | null;
  partial_url?: string | null;
}

export interface ReportRun {
  id: number;
  report: number;
  trigger: "schedule" | "retry" | "manual";
  attempt: number;
  state: JobState;
  scheduled_for: string;
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
  retry_at: string | null;
  file_size: number | null;
}

export interface ReportInput {
  app: string;
  name: string;
  pages: string[];
  cron: string;
  time_zone: string;
  variables: Record<string, unknown>;
  recipients: string[];
  paused: boolean;
}

export interface Report extends ReportInput {
  id: number;
  owner: string;
  stage: Stage;
  budget_seconds: number;
  max_attempts: number;
  next_run_at: string | null;
  last_run: ReportRun | null;
  /** page → the story's current title ("home" for the home). */
  page_titles?: Record<string, string>;
}

/** A report run's PDF, fetched with the session's token (a Blob to save). */
async function reportPdf(report: number, run: number): Promise<Blob> {
  const token = getToken();
  const response = await fetch(`${apiBase()}/reports/${report}/runs/${run}/pdf`, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  if (!response.ok) throw errorFrom(response.status, safeJson(await response.text()));
  return response.blob();
}

export interface FrontConfig {
  slides?: Slide[];
  home?: Home;
  requesters?: Requester[];
  /** The app's number format (narrative values). */
  format?: NumberFormat;
  [key: string]: unknown;
}

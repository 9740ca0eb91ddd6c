// The pipeline builder's logic: the step forms generated from the JSON Schema of each step
// (GET /pipeline-steps, the same models the compiler validates with), the canonical spelling
// of steps, new steps, summaries, values typed in forms and the API's errors placed at a step.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Schema = Record<string, unknown>;
export type Step = Record<string, unknown> & { name: string };

export interface StepInfo {
  name: string;
  family: string;
  title: string;
  description: string;
  example: Record<string, unknown>;
  legacy: string | null;
  schema: Schema;
}

export interface StepCatalog {
  families: { name: string; title: string }[];
  operators: string[];
  steps: StepInfo[];
}

export type FieldKind =
  | "domain" // a domain's name: picked from the stage's domains
  | "column" // a column's name: picked from the columns before the step
  | "columns" // a list of columns
  | "enum"
  | "number"
  | "boolean"
  | "text"
  | "value" // a JSON scalar typed as text (a number when it reads as one)
  | "values" // a list of scalars
  | "condition" // {column, operator, value} or {and: [...]} / {or: [...]}
  | "objects" // a list of parts (aggregations, sort columns…), each a form of its own
  | "object" // one part
  | "tuples" // a list of fixed-length rows ([old, new] pairs)
  | "pipeline" // another pipeline or a domain's name (join)
  | "pipelines" // a list of them (append)
  | "name" // a new column's name: typed
  | "names" // new columns' names: typed, separated by commas
  | "json"; // anything else: edited as JSON text

export interface FieldSpec {
  key: string; // the canonical spelling
  label: string;
  description: string;
  required: boolean;
  kind: FieldKind;
  default?: unknown;
  options?: string[]; // enum
  fields?: FieldSpec[]; // object / objects
  items?: FieldSpec[]; // tuples: one spec per position
  integer?: boolean; // number
}

const NAME_PATTERN = "^[^\\x00\\x01]*$";
// Fields naming a column the step creates (new_column, unpivot_column_name, label_col…).
const NEW_NAME = /^new_|_name$|^label_col$|^level_col$|^parent_label_col$|^child_level_col$/;
const CONDITIONS = new Set(["And", "Or", "Comparison", "Inclusion", "NullCheck", "Match", "DateBound"]);

function defsOf(schema: Schema): Record<string, Schema> {
  return (schema.$defs as Record<string, Schema>) ?? {};
}

function refName(s: Schema): string | null {
  const ref = s.$ref;
  return typeof ref === "string" ? ref.slice(ref.lastIndexOf("/") + 1) : null;
}

function members(s: Schema): Schema[] {
  return ((s.anyOf ?? s.oneOf) as Schema[] | undefined) ?? [];
}

function isPipeline(s: Schema): boolean {
  return members(s).some((m) => typeof m.description === "string" && m.description.startsWith("A pipeline"));
}

/** The members of a union, nested unions flattened. */
function flat(s: Schema): Schema[] {
  return members(s).flatMap((m) => (members(m).length ? flat(m) : [m]));
}

function isCondition(s: Schema): boolean {
  const name = refName(s);
  if (name && CONDITIONS.has(name)) return true;
  return members(s).some((m) => {
    const n = refName(m);
    return n !== null && CONDITIONS.has(n);
  });
}

/** Whether the schema describes a scalar (string, number, boolean, null) and nothing else. */
function scalarOnly(s: Schema): boolean {
  const ms = members(s);
  if (ms.length) return ms.every(scalarOnly);
  return ["string", "integer", "number", "boolean", "null"].includes(s.type as string) && !s.enum;
}

/** The canonical fields of an object schema, required first as the model declares them. */
export function formFields(schema: Schema, defs: Record<string, Schema> = defsOf(schema), step = ""): FieldSpec[] {
  const properties = (schema.properties as Record<string, Schema>) ?? {};
  const required = new Set((schema.required as string[]) ?? []);
  // A field with other spellings is required through `allOf: [{anyOf: [{required: [a]}, …]}]`.
  for (const rule of (schema.allOf as Schema[]) ?? []) {
    const first = (rule.anyOf as Schema[] | undefined)?.[0]?.required as string[] | undefined;
    if (first?.length) required.add(first[0]);
  }
  const out: FieldSpec[] = [];
  for (const [key, prop] of Object.entries(properties)) {
    if (key === "name" || "x-spelling-of" in prop) continue;
    out.push(fieldSpec(key, prop, defs, required.has(key), step));
  }
  return out;
}

/** A description for a form: the reference's `code` marks and line breaks left out. */
export function plain(text: string): string {
  return text.replace(/`/g, "").replace(/\s+/g, " ").trim();
}

function labelOf(key: string, prop: Schema): string {
  const title = typeof prop.title === "string" ? prop.title : key.replace(/_/g, " ");
  return title.charAt(0).toUpperCase() + title.slice(1).toLowerCase();
}

export function fieldSpec(key: string, prop: Schema, defs: Record<string, Schema>, required: boolean, step = ""): FieldSpec {
  const spec: FieldSpec = {
    key,
    label: labelOf(key, prop),
    description: typeof prop.description === "string" ? plain(prop.description) : "",
    required,
    kind: "json",
  };
  if ("default" in prop) spec.default = prop.default;
  if (step === "domain" && key === "domain") return { ...spec, kind: "domain" };
  const shape = classify(prop, defs);
  // A column the step creates is named, not picked.
  if (shape.kind === "column" && NEW_NAME.test(key)) return { ...spec, kind: "name" };
  if (shape.kind === "columns" && NEW_NAME.test(key)) return { ...spec, kind: "names" };
  return { ...spec, ...shape };
}

type Shape = Pick<FieldSpec, "kind" | "options" | "fields" | "items" | "integer">;

/** What form control draws a JSON Schema. */
export function classify(prop: Schema, defs: Record<string, Schema>): Shape {
  if (isCondition(prop)) return { kind: "condition" };
  const ref = refName(prop);
  if (ref) {
    const target = defs[ref] ?? {};
    return { kind: "object", fields: formFields(target, defs) };
  }
  if (Array.isArray(prop.enum)) return { kind: "enum", options: prop.enum.map(String) };
  const ms = members(prop);
  if (ms.length) {
    if (isPipeline(prop)) return { kind: "pipeline" };
    const real = flat(prop).filter((m) => m.type !== "null");
    if (real.length === 1) return classify(real[0], defs);
    const enumMember = real.find((m) => Array.isArray(m.enum));
    if (enumMember && real.every((m) => m === enumMember || m.type === "string")) {
      return { kind: "enum", options: (enumMember.enum as unknown[]).map(String) };
    }
    // A scalar or a part (ifthenelse's else: a value or another if): a value, the part as JSON.
    if (real.some(scalarOnly) && real.every((m) => scalarOnly(m) || refName(m))) {
      if (!real.every(scalarOnly)) return { kind: "value" };
      const types = new Set(real.map((m) => m.type as string));
      if (types.has("boolean") || types.has("null") || real.length < flat(prop).length) return { kind: "value" };
      if (types.has("string")) return { kind: "text" };
      return { kind: "number", integer: !types.has("number") };
    }
    if (real.every((m) => m.type === "array" || scalarOnly(m))) return { kind: "values" };
    return { kind: "json" };
  }
  switch (prop.type) {
    case "string":
      return { kind: prop.pattern === NAME_PATTERN ? "column" : "text" };
    case "integer":
      return { kind: "number", integer: true };
    case "number":
      return { kind: "number", integer: false };
    case "boolean":
      return { kind: "boolean" };
    case "array": {
      const prefix = prop.prefixItems as Schema[] | undefined;
      // [column, new name] pairs: the first is picked, the others typed.
      if (prefix) {
        const items = prefix.map((p, i) => fieldSpec(String(i), p, defs, true));
        return { kind: "tuples", items: items.map((f, i) => (i > 0 && f.kind === "column" ? { ...f, kind: "name" } : f)) };
      }
      const item = (prop.items as Schema) ?? {};
      if (isPipeline(item)) return { kind: "pipelines" };
      const inner = classify(item, defs);
      if (inner.kind === "column") return { kind: "columns" };
      if (inner.kind === "object") return { kind: "objects", fields: inner.fields };
      if (inner.kind === "tuples") return { kind: "tuples", items: inner.items };
      if (["text", "value", "number", "enum"].includes(inner.kind)) return { kind: "values" };
      return { kind: "json" };
    }
    case undefined:
      // Untyped: any JSON value (fillna's value), asked as a value.
      return Object.keys(prop).every((k) => ["title", "description", "default"].includes(k)) ? { kind: "value" } : { kind: "json" };
    default:
      return { kind: "json" };
  }
}

// --- canonical spelling -------------------------------------------------------------------------

/** Per spelling of an object schema's fields, its canonical name. */
function spellingMap(schema: Schema): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, prop] of Object.entries((schema.properties as Record<string, Schema>) ?? {})) {
    const of = prop["x-spelling-of"];
    out.set(key, typeof of === "string" ? of : key);
  }
  return out;
}

function canonicalValue(value: unknown, prop: Schema, defs: Record<string, Schema>, catalog: StepCatalog): unknown {
  if (isCondition(prop) || value === null || typeof value !== "object") return value;
  const ref = refName(prop);
  if (ref && defs[ref] && !Array.isArray(value)) return canonicalObject(value as Record<string, unknown>, defs[ref], defs, catalog);
  if (members(prop).some((m) => typeof m.description === "string" && m.description.startsWith("A pipeline"))) {
    return Array.isArray(value) ? canonicalPipeline(value, catalog) : value;
  }
  for (const m of members(prop)) {
    const r = refName(m);
    if (r && defs[r] && !Array.isArray(value)) return canonicalObject(value as Record<string, unknown>, defs[r], defs, catalog);
  }
  if (Array.isArray(value) && prop.type === "array" && prop.items) {
    return value.map((v) => canonicalValue(v, prop.items as Schema, defs, catalog));
  }
  return value;
}

function canonicalObject(
  value: Record<string, unknown>,
  schema: Schema,
  defs: Record<string, Schema>,
  catalog: StepCatalog,
): Record<string, unknown> {
  const names = spellingMap(schema);
  const properties = (schema.properties as Record<string, Schema>) ?? {};
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const canonical = names.get(key) ?? key; // unknown keys kept: the server names them
    out[canonical] = properties[canonical] ? canonicalValue(v, properties[canonical], defs, catalog) : v;
  }
  return out;
}

/** A step with every field in its canonical spelling (`rankOn` → `rank_on`), nested parts and
 * pipelines too; steps the catalog does not know are kept as they are. */
export function canonicalStep(step: unknown, catalog: StepCatalog): unknown {
  if (!step || typeof step !== "object" || Array.isArray(step)) return step;
  const info = catalog.steps.find((s) => s.name === (step as Step).name);
  if (!info) return step;
  const out = canonicalObject(step as Record<string, unknown>, info.schema, defsOf(info.schema), catalog);
  return { name: info.name, ...out };
}

export function canonicalPipeline(steps: unknown[], catalog: StepCatalog): unknown[] {
  return steps.map((s) => canonicalStep(s, catalog));
}

// --- new steps and summaries -------------------------------------------------------------------

/** A fresh value for a field: its default, or an empty value of its kind. */
export function emptyValue(spec: FieldSpec, columns: string[] = []): unknown {
  if (spec.default !== undefined && spec.default !== null) return structuredClone(spec.default);
  switch (spec.kind) {
    case "columns":
    case "names":
    case "values":
    case "tuples":
    case "pipelines":
      return [];
    case "objects":
      return [emptyObject(spec.fields ?? [], columns)];
    case "object":
      return emptyObject(spec.fields ?? [], columns);
    case "condition":
      return { column: columns[0] ?? "", operator: "eq", value: "" };
    case "enum":
      return spec.options?.[0] ?? "";
    case "boolean":
      return false;
    case "number":
      return null;
    case "column":
      return columns[0] ?? "";
    case "pipeline":
      return "";
    default:
      return "";
  }
}

export function emptyObject(fields: FieldSpec[], columns: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) if (f.required) out[f.key] = emptyValue(f, columns);
  return out;
}

/** A new step of a kind: its name and its required fields, empty or defaulted. */
export function newStep(info: StepInfo, columns: string[] = []): Step {
  return { name: info.name, ...emptyObject(formFields(info.schema, defsOf(info.schema), info.name), columns) };
}

function brief(v: unknown): string {
  if (v === null || v === undefined || v === "") return "";
  if (Array.isArray(v)) return v.map(brief).filter(Boolean).join(", ");
  if (typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (Array.isArray(o.and) || Array.isArray(o.or)) {
      const parts = ((o.and ?? o.or) as unknown[]).map(brief);
      return parts.join(o.and ? " and " : " or ");
    }
    if ("column" in o && "operator" in o) return [o.column, OPERATOR_SIGNS[String(o.operator)] ?? o.operator, brief(o.value)].join(" ").trim();
    return Object.values(o).map(brief).filter(Boolean).join(" ");
  }
  return String(v);
}

export const OPERATOR_SIGNS: Record<string, string> = { eq: "=", ne: "≠", gt: ">", ge: "≥", lt: "<", le: "≤" };

/** A step in a few words for the list: its main fields' values. */
export function summary(step: Step, max = 60): string {
  const text = Object.entries(step)
    .filter(([k]) => k !== "name")
    .map(([, v]) => brief(v))
    .filter(Boolean)
    .join(" · ");
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

// --- values typed in forms ---------------------------------------------------------------------

const NUMERIC = new Set(["integer", "float"]);

/** Text typed in a value field: a number for a numeric column (or text that reads as one when
 * the column's type is unknown), true/false for a boolean column, the text otherwise. */
export function parseValue(text: string, columnType?: string): unknown {
  const trimmed = text.trim();
  if (columnType === "boolean" && (trimmed === "true" || trimmed === "false")) return trimmed === "true";
  const numeric = trimmed !== "" && Number.isFinite(Number(trimmed));
  if (numeric && (columnType === undefined ? /^-?\d+(\.\d+)?$/.test(trimmed) : NUMERIC.has(columnType))) return Number(trimmed);
  return text;
}

export function valueText(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) return v.map(valueText).join(", ");
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

/** "France, Spain" → ["France", "Spain"] (numbers for a numeric column). */
export function parseList(text: string, columnType?: string): unknown[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((s) => parseValue(s, columnType));
}

// --- errors --------------------------------------------------------------------------------------

export interface StepError {
  step: number; // the top-level step's index
  field: string | null; // its canonical field, when the API names one
  location: (string | number)[]; // inside the field
  message: string;
}

/** Where the API's 400 points: `details.step` (an index, or a path into nested pipelines),
 * `details.field` and `details.location`. Null when it names no step. */
export function stepError(details: unknown, message: string, offset = 0): StepError | null {
  if (!details || typeof details !== "object") return null;
  const d = details as Record<string, unknown>;
  const at = Array.isArray(d.step) ? d.step[0] : d.step;
  if (typeof at !== "number") return null;
  const location = Array.isArray(d.location) ? (d.location as (string | number)[]) : [];
  return { step: at + offset, field: typeof d.field === "string" ? d.field : null, location, message };
}

/** Whether the error is at `key` of the step (its path `inside`, when a part's field). */
export function errorAt(error: StepError | null, step: number, key: string, inside: (string | number)[] = []): boolean {
  if (!error || error.step !== step) return false;
  if (!inside.length) return error.field === key;
  const path = [error.field, ...error.location.slice(1)];
  return [key, ...inside].every((p, i) => path[i] === p);
}

// --- reorder -----------------------------------------------------------------------------------

/** `steps` with the one at `from` moved to `to` (the domain step stays first). */
export function moved<T>(steps: T[], from: number, to: number): T[] {
  if (from === to || from < 1 || to < 1 || from >= steps.length || to >= steps.length) return steps;
  const out = [...steps];
  const [item] = out.splice(from, 1);
  out.splice(to, 0, item);
  return out;
}

/** The catalog's steps grouped by family (menu order), filtered by a search text. */
export function stepMenu(catalog: StepCatalog, search = ""): { name: string; title: string; steps: StepInfo[] }[] {
  const q = search.trim().toLowerCase();
  return catalog.families
    .map((f) => ({
      ...f,
      steps: catalog.steps.filter(
        (s) =>
          s.family === f.name &&
          s.name !== "domain" &&
          (!q || s.name.includes(q) || s.title.toLowerCase().includes(q) || s.description.toLowerCase().includes(q)),
      ),
    }))
    .filter((f) => f.steps.length);
}

/** The path of the first field of `step` holding `name` (a column a query error names), or null. */
export function fieldHolding(step: Step, name: string): (string | number)[] | null {
  const search = (v: unknown, path: (string | number)[]): (string | number)[] | null => {
    if (v === name) return path;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const found = search(v[i], [...path, i]);
        if (found) return found;
      }
    } else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        const found = search(x, [...path, k]);
        if (found) return found;
      }
    }
    return null;
  };
  for (const [k, v] of Object.entries(step)) {
    if (k === "name") continue;
    const found = search(v, [k]);
    if (found) return found;
  }
  return null;
}

/** A query error (the SQL of the steps so far failed) placed at the last step: at the field
 * holding the column the message quotes, when one does. */
export function queryError(step: Step, index: number, message: string): StepError {
  for (const match of message.matchAll(/"([^"]+)"/g)) {
    const path = fieldHolding(step, match[1]);
    if (path) return { step: index, field: String(path[0]), location: path, message };
  }
  return { step: index, field: null, location: [], message };
}

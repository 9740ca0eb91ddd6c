// Data permissions (row-level rules) as forms: a stored rule (`DATA_PERMISSIONS` of the ETL
// config) ⇄ a form of plain fields, with the checks the form shows before anything is sent.
//
// A condition is a list of clauses joined by AND; each clause compares a column with a fixed
// value, or with something of the user who reads the data: an attribute, their groups, their
// username (rendered server-side from `{{ user.… }}` placeholders).

export type Scope = "ALL_USERS" | "USER_GROUP" | "DEFAULT";
export type Effect = "SEE_ALL" | "SEE_NOTHING" | "CUSTOM";
export type Operator = "eq" | "ne" | "in" | "nin" | "gt" | "ge" | "lt" | "le" | "matches" | "isnull" | "notnull";
export type ValueSource = "value" | "attribute" | "groups" | "username";

export const SCOPES: Scope[] = ["ALL_USERS", "USER_GROUP", "DEFAULT"];
export const EFFECTS: Effect[] = ["CUSTOM", "SEE_ALL", "SEE_NOTHING"];
export const OPERATORS: Operator[] = ["eq", "ne", "in", "nin", "gt", "ge", "lt", "le", "matches", "isnull", "notnull"];
export const SOURCES: ValueSource[] = ["attribute", "value", "groups", "username"];
const LIST_OPERATORS: Operator[] = ["in", "nin"];
const NO_VALUE: Operator[] = ["isnull", "notnull"];

export interface PermissionRule {
  domain: string;
  scope: Scope;
  group?: string | null;
  effect: Effect;
  condition?: Record<string, unknown> | null;
}

export interface Clause {
  column: string;
  operator: Operator;
  source: ValueSource;
  /** The fixed value as typed (a list is comma-separated). */
  value: string;
  /** The attribute's name, when `source` is "attribute". */
  attribute: string;
}

export interface RuleForm {
  domain: string;
  scope: Scope;
  group: string;
  effect: Effect;
  clauses: Clause[];
  /** A stored condition the form cannot show (OR, dates, …): kept as is unless replaced. */
  advanced: Record<string, unknown> | null;
}

export interface ColumnInfo {
  name: string;
  type: string;
}

export function newClause(column = ""): Clause {
  return { column, operator: "eq", source: "attribute", value: "", attribute: "" };
}

export function newRule(domain = ""): RuleForm {
  return { domain, scope: "ALL_USERS", group: "", effect: "CUSTOM", clauses: [newClause()], advanced: null };
}

export const needsValue = (op: Operator) => !NO_VALUE.includes(op);
export const isListOperator = (op: Operator) => LIST_OPERATORS.includes(op);

// --- stored rule → form ----------------------------------------------------------------------

const PLACEHOLDER = /^\s*(?:\{\{\s*(.+?)\s*\}\}|<%=\s*(.+?)\s*%>)\s*$/;
const ATTRIBUTE_NAME = /^[A-Za-z0-9_]+$/;

function clauseFrom(raw: unknown): Clause | null {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return null;
  const c = raw as Record<string, unknown>;
  const operator = (c.operator ?? "eq") as Operator;
  if (typeof c.column !== "string" || !OPERATORS.includes(operator)) return null;
  const clause = newClause(c.column);
  clause.operator = operator;
  if (!needsValue(operator)) return clause;
  const value = c.value;
  const placeholder = typeof value === "string" ? PLACEHOLDER.exec(value) : null;
  if (placeholder) {
    const expression = placeholder[1] ?? placeholder[2];
    const attribute = /^user\.attributes\.([A-Za-z0-9_]+)$/.exec(expression);
    if (attribute) return { ...clause, source: "attribute", attribute: attribute[1] };
    if (expression === "user.groups") return { ...clause, source: "groups" };
    if (expression === "user.username") return { ...clause, source: "username" };
    return null; // another variable: only the advanced view says it right
  }
  if (Array.isArray(value)) {
    if (!value.every((v) => ["string", "number", "boolean"].includes(typeof v))) return null;
    return { ...clause, source: "value", value: value.map(String).join(", ") };
  }
  if (value === null || value === undefined) return { ...clause, source: "value", value: "" };
  if (typeof value === "object") return null;
  return { ...clause, source: "value", value: String(value) };
}

/** The clauses of a condition the form can show (one clause, or an AND of clauses); null otherwise. */
export function conditionToClauses(condition: unknown): Clause[] | null {
  if (!condition || typeof condition !== "object") return null;
  const and = (condition as Record<string, unknown>).and;
  const parts = Array.isArray(and) ? and : [condition];
  const clauses = parts.map(clauseFrom);
  return clauses.every((c): c is Clause => c !== null) && clauses.length ? clauses : null;
}

export function ruleToForm(rule: PermissionRule): RuleForm {
  const form: RuleForm = {
    domain: rule.domain,
    scope: rule.scope,
    group: rule.group ?? "",
    effect: rule.effect,
    clauses: [],
    advanced: null,
  };
  if (rule.effect === "CUSTOM") {
    const clauses = conditionToClauses(rule.condition);
    if (clauses) form.clauses = clauses;
    else form.advanced = (rule.condition as Record<string, unknown>) ?? {};
  }
  return form;
}

// --- form → stored rule ----------------------------------------------------------------------

/** A problem of one field of one rule, shown beside that field. */
export interface FieldProblem {
  rule: number;
  field: string; // "domain", "group", "clauses[0].column", "clauses[0].value", …
  key: string; // an i18n key under perm.problem.*
  params: Record<string, string>;
}

const NUMERIC = new Set(["integer", "float", "number", "decimal", "double"]);

function typed(text: string, column: ColumnInfo | undefined): string | number | boolean {
  const trimmed = text.trim();
  if (column && NUMERIC.has(column.type) && trimmed !== "" && Number.isFinite(Number(trimmed))) return Number(trimmed);
  if (column?.type === "boolean" && (trimmed === "true" || trimmed === "false")) return trimmed === "true";
  return trimmed;
}

function clauseTo(clause: Clause, columns: ColumnInfo[]): Record<string, unknown> {
  const out: Record<string, unknown> = { column: clause.column, operator: clause.operator };
  if (!needsValue(clause.operator)) return out;
  const column = columns.find((c) => c.name === clause.column);
  if (clause.source === "attribute") out.value = `{{ user.attributes.${clause.attribute.trim()} }}`;
  else if (clause.source === "groups") out.value = "{{ user.groups }}";
  else if (clause.source === "username") out.value = "{{ user.username }}";
  else if (isListOperator(clause.operator))
    out.value = clause.value
      .split(",")
      .map((v) => v.trim())
      .filter(Boolean)
      .map((v) => typed(v, column));
  else out.value = typed(clause.value, column);
  return out;
}

/** The problems of the forms, field by field (an empty list: ready to save). */
export function checkRules(forms: RuleForm[], columnsOf: (domain: string) => ColumnInfo[] | undefined): FieldProblem[] {
  const problems: FieldProblem[] = [];
  forms.forEach((form, rule) => {
    const say = (field: string, key: string, params: Record<string, string> = {}) =>
      problems.push({ rule, field, key: `perm.problem.${key}`, params });
    const columns = columnsOf(form.domain);
    if (!form.domain) say("domain", "pickDomain");
    else if (!columns) say("domain", "noDomain", { domain: form.domain });
    if (form.scope === "USER_GROUP" && !form.group) say("group", "pickGroup");
    if (form.effect !== "CUSTOM" || form.advanced) return;
    if (!form.clauses.length) say("clauses", "noClause");
    form.clauses.forEach((clause, i) => {
      const at = `clauses[${i}]`;
      if (!clause.column) say(`${at}.column`, "pickColumn");
      else if (columns && !columns.some((c) => c.name === clause.column))
        say(`${at}.column`, "noColumn", { domain: form.domain, column: clause.column });
      if (!needsValue(clause.operator)) return;
      if (clause.source === "attribute") {
        if (!clause.attribute.trim()) say(`${at}.attribute`, "pickAttribute");
        else if (!ATTRIBUTE_NAME.test(clause.attribute.trim()))
          say(`${at}.attribute`, "attributeName");
      } else if (clause.source === "groups" && !isListOperator(clause.operator)) {
        say(`${at}.operator`, "groupsList");
      } else if (clause.source === "value") {
        const column = columns?.find((c) => c.name === clause.column);
        const values = isListOperator(clause.operator) ? clause.value.split(",").map((v) => v.trim()) : [clause.value.trim()];
        if (!values.some(Boolean)) say(`${at}.value`, "typeValue");
        else if (column && NUMERIC.has(column.type) && !["matches"].includes(clause.operator)) {
          const bad = values.filter(Boolean).find((v) => !Number.isFinite(Number(v)));
          if (bad !== undefined) say(`${at}.value`, "notNumber", { value: bad, column: column.name });
        }
      }
    });
  });
  return problems;
}

export function formToRule(form: RuleForm, columns: ColumnInfo[]): PermissionRule {
  const rule: PermissionRule = { domain: form.domain, scope: form.scope, effect: form.effect };
  if (form.scope === "USER_GROUP") rule.group = form.group;
  if (form.effect === "CUSTOM") {
    if (form.advanced) rule.condition = form.advanced;
    else {
      const clauses = form.clauses.map((c) => clauseTo(c, columns));
      rule.condition = clauses.length === 1 ? clauses[0] : { and: clauses };
    }
  }
  return rule;
}

/** The rule's index in a server error's path (`rules[2].condition.column` → 2). */
export function ruleIndexOfPath(path: string): number | null {
  const match = /^rules\[(\d+)\]/.exec(path);
  return match ? Number(match[1]) : null;
}

/** Attribute names users have, for the attribute picker (sorted, usable in rules). */
export function attributeNames(users: { attributes?: Record<string, unknown> }[]): string[] {
  const names = new Set<string>();
  for (const u of users) for (const key of Object.keys(u.attributes ?? {})) if (ATTRIBUTE_NAME.test(key)) names.add(key);
  return [...names].sort();
}

import { describe, expect, it } from "vitest";
import {
  attributeNames,
  checkRules,
  conditionToClauses,
  formToRule,
  newClause,
  newRule,
  ruleIndexOfPath,
  ruleToForm,
  type ColumnInfo,
  type PermissionRule,
} from "./adminPermissions";

const COLUMNS: ColumnInfo[] = [
  { name: "country", type: "string" },
  { name: "revenue", type: "integer" },
];
const columnsOf = (domain: string) => (domain === "sales" ? COLUMNS : undefined);

describe("rules ⇄ forms", () => {
  it("reads an attribute rule and writes it back unchanged", () => {
    const rule: PermissionRule = {
      domain: "sales",
      scope: "ALL_USERS",
      effect: "CUSTOM",
      condition: { column: "country", operator: "eq", value: "{{ user.attributes.country }}" },
    };
    const form = ruleToForm(rule);
    expect(form.clauses).toEqual([{ column: "country", operator: "eq", source: "attribute", attribute: "country", value: "" }]);
    expect(formToRule(form, COLUMNS)).toEqual(rule);
  });

  it("types fixed values from the column and joins several clauses with and", () => {
    const form = newRule("sales");
    form.scope = "USER_GROUP";
    form.group = "managers";
    form.clauses = [
      { ...newClause("revenue"), operator: "ge", source: "value", value: " 100 " },
      { ...newClause("country"), operator: "in", source: "value", value: "France, Spain," },
      { ...newClause("country"), operator: "in", source: "groups" },
      { ...newClause("country"), operator: "notnull", source: "value", value: "ignored" },
    ];
    expect(formToRule(form, COLUMNS)).toEqual({
      domain: "sales",
      scope: "USER_GROUP",
      group: "managers",
      effect: "CUSTOM",
      condition: {
        and: [
          { column: "revenue", operator: "ge", value: 100 },
          { column: "country", operator: "in", value: ["France", "Spain"] },
          { column: "country", operator: "in", value: "{{ user.groups }}" },
          { column: "country", operator: "notnull" },
        ],
      },
    });
    // …and reads them back as the same clauses.
    const back = ruleToForm(formToRule(form, COLUMNS));
    expect(back.clauses.map((c) => [c.column, c.operator, c.source, c.value])).toEqual([
      ["revenue", "ge", "value", "100"],
      ["country", "in", "value", "France, Spain"],
      ["country", "in", "groups", ""],
      ["country", "notnull", "attribute", ""],
    ]);
  });

  it("keeps a condition the form cannot show as advanced, untouched", () => {
    const condition = { or: [{ column: "country", operator: "eq", value: "France" }, { column: "revenue", operator: "gt", value: 5 }] };
    expect(conditionToClauses(condition)).toBeNull();
    expect(conditionToClauses({ column: "country", value: "{{ requestersValue }}" })).toBeNull();
    const form = ruleToForm({ domain: "sales", scope: "DEFAULT", effect: "CUSTOM", condition });
    expect(form.advanced).toEqual(condition);
    expect(formToRule(form, COLUMNS).condition).toBe(condition);
  });

  it("drops group and condition where the scope and effect take none", () => {
    const form = newRule("sales");
    form.group = "left-over";
    form.effect = "SEE_NOTHING";
    form.scope = "DEFAULT";
    expect(formToRule(form, COLUMNS)).toEqual({ domain: "sales", scope: "DEFAULT", effect: "SEE_NOTHING" });
  });
});

describe("checking the forms", () => {
  it("names each missing or wrong field of each rule", () => {
    const ok = newRule("sales");
    ok.clauses = [{ ...newClause("country"), attribute: "country" }];
    const bad = newRule("sales");
    bad.scope = "USER_GROUP";
    bad.clauses = [
      newClause(),
      { ...newClause("revenue"), source: "value", value: "a lot" },
      { ...newClause("country"), source: "groups" },
      { ...newClause("country"), attribute: "e-mail" },
      { ...newClause("region"), attribute: "x" },
    ];
    const unknown = newRule("targets");
    unknown.effect = "SEE_ALL";
    const problems = checkRules([ok, bad, unknown], columnsOf);
    expect(problems.map((p) => [p.rule, p.field, p.key])).toEqual([
      [1, "group", "perm.problem.pickGroup"],
      [1, "clauses[0].column", "perm.problem.pickColumn"],
      [1, "clauses[0].attribute", "perm.problem.pickAttribute"],
      [1, "clauses[1].value", "perm.problem.notNumber"],
      [1, "clauses[2].operator", "perm.problem.groupsList"],
      [1, "clauses[3].attribute", "perm.problem.attributeName"],
      [1, "clauses[4].column", "perm.problem.noColumn"],
      [2, "domain", "perm.problem.noDomain"],
    ]);
    expect(problems[3].params).toEqual({ value: "a lot", column: "revenue" });
  });

  it("finds the rule of a server error and lists usable attribute names", () => {
    expect(ruleIndexOfPath("rules[12].condition.column")).toBe(12);
    expect(ruleIndexOfPath("body")).toBeNull();
    expect(attributeNames([{ attributes: { country: "FR", "e-mail": "x" } }, { attributes: { team: 1, country: "ES" } }, {}])).toEqual([
      "country",
      "team",
    ]);
  });
});

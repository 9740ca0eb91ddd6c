import { describe, expect, it } from "vitest";
import type { DomainInfo, FrontConfig, Slide } from "../api";
import {
  addBlock,
  addChapter,
  addStory,
  moveBlock,
  moveSlide,
  newId,
  parseSimpleQuery,
  removeBlock,
  removeSlide,
  renameSlide,
  resizeBlock,
  shiftSlide,
  simpleQuery,
  slideTree,
  template,
  TEMPLATE_TYPES,
  withBlockIds,
} from "./structure";

const SLIDES: Slide[] = [
  { id: "a", level: 1, title: "A" },
  { id: "a1", level: 2, parent_id: "a", title: "A1" },
  { id: "a2", level: 2, parent_id: "a", title: "A2" },
  { id: "b", level: 1, title: "B" },
  { id: "b1", level: 2, parent_id: "b", title: "B1" },
];
const order = (slides: Slide[]) => slides.map((s) => `${s.parent_id ?? ""}>${s.id}@${s.level}`);

describe("chapters and stories", () => {
  it("reads the flat list as a tree", () => {
    const tree = slideTree(SLIDES);
    expect(tree.map((n) => [n.slide.id, n.children.map((c) => c.slide.id)])).toEqual([
      ["a", ["a1", "a2"]],
      ["b", ["b1"]],
    ]);
  });

  it("moves a chapter with its stories", () => {
    expect(order(moveSlide(SLIDES, "b", "a", "before"))).toEqual([">b@1", "b>b1@2", ">a@1", "a>a1@2", "a>a2@2"]);
  });

  it("moves a story into another chapter, before a story or at its end", () => {
    expect(order(moveSlide(SLIDES, "a1", "b1", "before"))).toEqual([">a@1", "a>a2@2", ">b@1", "b>a1@2", "b>b1@2"]);
    expect(order(moveSlide(SLIDES, "a2", "b", "inside"))).toEqual([">a@1", "a>a1@2", ">b@1", "b>b1@2", "b>a2@2"]);
  });

  it("turns a story into a chapter when dropped among chapters", () => {
    expect(order(moveSlide(SLIDES, "a1", "b", "after"))).toEqual([">a@1", "a>a2@2", ">b@1", "b>b1@2", ">a1@1"]);
  });

  it("does not move a chapter into its own story", () => {
    expect(moveSlide(SLIDES, "a", "a1", "inside")).toBe(SLIDES);
    expect(moveSlide(SLIDES, "a", "a", "before")).toBe(SLIDES);
  });

  it("moves up and down among siblings only", () => {
    expect(order(shiftSlide(SLIDES, "a2", -1)).slice(0, 3)).toEqual([">a@1", "a>a2@2", "a>a1@2"]);
    expect(shiftSlide(SLIDES, "a1", -1)).toBe(SLIDES);
    expect(shiftSlide(SLIDES, "b1", 1)).toBe(SLIDES);
    expect(order(shiftSlide(SLIDES, "a", 1))).toEqual([">b@1", "b>b1@2", ">a@1", "a>a1@2", "a>a2@2"]);
  });

  it("adds chapters and stories with unique ids", () => {
    const { slides, id } = addChapter(SLIDES, "A");
    expect(id).toBe("a-2");
    const story = addStory(slides, "a", "Revenue in €uros!", { narrative: "x" });
    expect(story.id).toBe("revenue-in-uros");
    expect(order(story.slides).slice(0, 4)).toEqual([">a@1", "a>a1@2", "a>a2@2", "a>revenue-in-uros@2"]);
    expect(story.slides.find((s) => s.id === story.id)?.narrative).toBe("x");
    expect(newId("", ["story"])).toBe("story-2");
    expect(newId("Été", [])).toBe("ete");
  });

  it("renames", () => {
    expect(renameSlide(SLIDES, "b1", "New").find((s) => s.id === "b1")?.title).toBe("New");
  });

  it("removes a chapter, its stories and what pointed at them", () => {
    const config: FrontConfig = {
      slides: SLIDES,
      requesters: [
        { id: "x", label: "X", type: "search", stories: ["a1"], charts: ["a1/0", "b1/0"] },
        { id: "y", label: "Y", type: "search", stories: ["a1", "b1"] },
      ],
      home: { stories: [{ story: "a2" }, { story: "b1" }] },
    };
    const next = removeSlide(config, "a");
    expect(next.slides!.map((s) => s.id)).toEqual(["b", "b1"]);
    expect(next.requesters![0].stories).toEqual([]);
    expect(next.requesters![0].charts).toEqual(["b1/0"]);
    expect(next.requesters![1].stories).toEqual(["b1"]);
    expect(next.home!.stories).toEqual([{ story: "b1" }]);
  });
});

describe("the charts of a story", () => {
  const single: FrontConfig = {
    slides: [{ id: "s", chart: { type: "bar" }, query: [1] }],
    requesters: [{ id: "r", label: "R", type: "search", charts: ["s/0"] }],
  };

  it("gives every chart an id and keeps the filters pointing at them", () => {
    const next = withBlockIds(single, "s");
    expect(next.slides![0].charts).toEqual([{ id: "chart-1", chart: { type: "bar" }, query: [1], width: "full" }]);
    expect(next.slides![0].chart).toBeUndefined();
    expect(next.requesters![0].charts).toEqual(["s/chart-1"]);
  });

  it("adds, moves, resizes and removes charts", () => {
    let config = addBlock(single, "s", { chart: { type: "pie" }, query: [2] });
    expect(config.slides![0].charts!.map((b) => [b.id, b.chart.type])).toEqual([["chart-1", "bar"], ["chart-2", "pie"]]);
    config = moveBlock(config, "s", 1, 0);
    expect(config.slides![0].charts!.map((b) => b.id)).toEqual(["chart-2", "chart-1"]);
    expect(moveBlock(config, "s", 0, 5)).toEqual(config);
    config = resizeBlock(config, "s", 0, "third");
    expect(config.slides![0].charts![0].width).toBe("third");
    config = removeBlock(config, "s", 1);
    expect(config.slides![0].charts!.map((b) => b.id)).toEqual(["chart-2"]);
    expect(config.requesters![0].charts).toEqual([]);
  });
});

describe("templates and simple requests", () => {
  const domains: DomainInfo[] = [
    { name: "empty", rows: 0, columns: [] },
    {
      name: "sales",
      rows: 3,
      columns: [
        { name: "day", type: "date" },
        { name: "revenue", type: "integer" },
        { name: "country", type: "string" },
        { name: "channel", type: "string" },
      ],
    },
  ];

  it("round-trips the KPI form's request", () => {
    const query = simpleQuery("sales", "revenue", "avg");
    expect(parseSimpleQuery(query)).toEqual({ domain: "sales", column: "revenue", aggregation: "avg" });
    expect(parseSimpleQuery([{ name: "domain", domain: "sales" }])).toBeNull();
    expect(parseSimpleQuery([query[0], { ...(query[1] as object), on: ["country"] }])).toBeNull();
  });

  it("pre-fills every chart type from the first text and numeric columns", () => {
    for (const type of TEMPLATE_TYPES) {
      const t = template(type, domains)!;
      expect(t.chart.type).toBe(type);
      expect((t.query[0] as { domain: string }).domain).toBe("sales");
    }
    expect(template("bar", domains)!.chart).toEqual({ type: "bar", x: "country", y: ["revenue"] });
    expect(template("pie", domains)!.chart).toEqual({ type: "pie", label: "country", value: "revenue" });
    expect(template("heatmap", domains)!.chart).toEqual({ type: "heatmap", x: "country", series: "channel", value: "revenue" });
    expect(template("kpi", [])).toBeNull();
  });
});

import { describe, expect, it } from "vitest";
import { capturePage, captureVariables, pollDelay, tokenFromHash, variableText } from "./capture";

describe("capture view inputs", () => {
  it("names the page like the backend", () => {
    expect(capturePage(undefined)).toBe("home");
    expect(capturePage("")).toBe("home");
    expect(capturePage("revenue")).toBe("story:revenue");
  });

  it("reads the token from the fragment only", () => {
    expect(tokenFromHash("#capture=tcc_abc.def")).toBe("tcc_abc.def");
    expect(tokenFromHash("capture=tcc_x")).toBe("tcc_x");
    // #token= is an SSO login's session token: never taken for a capture token.
    expect(tokenFromHash("#token=tct_session")).toBeNull();
    expect(tokenFromHash("")).toBeNull();
    expect(tokenFromHash("#capture=%20")).toBeNull();
  });

  it("takes the variables of a JSON object and nothing else", () => {
    expect(captureVariables('{"country":"Spain","n":2}')).toEqual({ country: "Spain", n: 2 });
    expect(captureVariables("[1,2]")).toEqual({});
    expect(captureVariables("not json")).toEqual({});
    expect(captureVariables(undefined)).toEqual({});
    expect(captureVariables(["a"])).toEqual({});
  });

  it("shows filter values as text", () => {
    expect(variableText("France")).toBe("France");
    expect(variableText(null)).toBe("—");
    expect(variableText(["a", "b"])).toBe("a, b");
    expect(variableText(3)).toBe("3");
  });

  it("polls quickly then every two seconds", () => {
    expect(pollDelay(0)).toBe(300);
    expect(pollDelay(2)).toBe(700);
    expect(pollDelay(50)).toBe(2000);
  });
});

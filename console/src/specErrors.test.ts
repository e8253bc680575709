import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { create, toBinary } from "@bufbuild/protobuf";
import { SpecProblemsSchema } from "./gen/syncgate/v1/syncgate_pb";
import { describe as describeProblem, offsetOf, problemsByLine, specProblems } from "./specErrors";

describe("spec problems", () => {
  it("reads the SpecProblems detail of an error as received from the gateway", () => {
    const detail = create(SpecProblemsSchema, {
      problems: [
        { line: 22, column: 30, section: "request", field: "updateTimeStart", message: 'unknown function "nosuchfunc"' },
        { line: 0, column: 0, message: "source key is missing" },
      ],
    });
    const err = new ConnectError("invalid input: request spec:22:30: …", Code.InvalidArgument);
    err.details.push({ type: "syncgate.v1.SpecProblems", value: toBinary(SpecProblemsSchema, detail) });
    const ps = specProblems(err);
    expect(ps).toHaveLength(2);
    expect(ps[0]).toEqual({ line: 22, column: 30, section: "request", field: "updateTimeStart", message: 'unknown function "nosuchfunc"' });
    expect(describeProblem(ps[0], { line: "line", column: "column" })).toBe('line 22, column 30: request field "updateTimeStart": unknown function "nosuchfunc"');
    expect(describeProblem(ps[1], { line: "line", column: "column" })).toBe("source key is missing");
    expect([...problemsByLine(ps).keys()]).toEqual([22, 0]);
  });

  it("finds none in other errors", () => {
    expect(specProblems(new ConnectError("no", Code.InvalidArgument))).toEqual([]);
    expect(specProblems(new Error("x"))).toEqual([]);
  });

  it("places a line and column in the text (columns in characters, Chinese and emoji included)", () => {
    const text = "flow: agents\n  名称: \"{{x}}\"\n😀é: y\nlast";
    expect(offsetOf(text, 1, 1)).toBe(0);
    expect(offsetOf(text, 1, 7)).toBe(6);
    expect(text.slice(offsetOf(text, 2, 7))).toMatch(/^"\{\{x/);
    expect(text.slice(offsetOf(text, 3, 2))).toMatch(/^é/); // the emoji is one column, two UTF-16 units
    expect(offsetOf(text, 2, 0)).toBe(13);
    expect(offsetOf(text, 2, 99)).toBe(text.indexOf("\n", 13)); // clamped to the end of its line
    expect(offsetOf(text, 9, 1)).toBe(text.length);
  });
});

import { describe, expect, it } from "vitest";
import { formatDuration, formatRate, parseKeys, prettyJSON, rate } from "./format";

describe("JSON bodies", () => {
  it("indents JSON and shows escaped Chinese as characters", () => {
    const body = '{"Model":{"FName":"\\u4e0a\\u6d77\\u690d\\u9686","FNumber":"AG1"},"n":[1,2]}';
    expect(prettyJSON(body)).toBe('{\n  "Model": {\n    "FName": "上海植隆",\n    "FNumber": "AG1"\n  },\n  "n": [\n    1,\n    2\n  ]\n}');
  });

  it("keeps Chinese written as characters", () => {
    expect(prettyJSON('{"remark":"演示"}')).toBe('{\n  "remark": "演示"\n}');
  });

  it("returns text that is not JSON unchanged, and nothing for an empty body", () => {
    expect(prettyJSON("HTTP 502 Bad Gateway")).toBe("HTTP 502 Bad Gateway");
    expect(prettyJSON('{"truncated":')).toBe('{"truncated":');
    expect(prettyJSON("  ")).toBe("");
  });
});

describe("numbers", () => {
  it("formats durations", () => {
    expect(formatDuration(850)).toBe("850 ms");
    expect(formatDuration(12340)).toBe("12.3 s");
    expect(formatDuration(245000)).toBe("4 m 05 s");
    expect(formatDuration(7380000)).toBe("2 h 03 m");
    expect(formatDuration(-1)).toBe("");
  });

  it("computes and formats rates", () => {
    expect(rate(500, 2000)).toBe(250);
    expect(rate(10, 0)).toBe(0);
    expect(formatRate(12345.6, "en-GB")).toBe("12,346/s");
    expect(formatRate(2.25, "en-GB")).toBe("2.3/s");
  });

  it("splits typed keys on commas, spaces and new lines, without duplicates", () => {
    expect(parseKeys(" CUST1, CUST2\nCUST3，CUST1  ")).toEqual(["CUST1", "CUST2", "CUST3"]);
    expect(parseKeys("")).toEqual([]);
  });
});

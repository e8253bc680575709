import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { RunSchema, RunStatus } from "./gen/syncgate/v1/syncgate_pb";
import { progress } from "./pages/Live";

describe("live progress bar", () => {
  const counts = { read: 40n, added: 10n, updated: 5n, skipped: 4n, failed: 1n };
  it("fills with the records done out of a known total: the keys, else the limit", () => {
    expect(progress(create(RunSchema, { status: RunStatus.RUNNING, counts, sourceKeys: ["a", "b", "c", "d"], limit: 0 }))).toBe(1);
    expect(progress(create(RunSchema, { status: RunStatus.RUNNING, counts, limit: 80 }))).toBe(0.25);
  });
  it("without a total, fills with the records done out of those read", () => {
    expect(progress(create(RunSchema, { status: RunStatus.RUNNING, counts }))).toBe(0.5);
    expect(progress(create(RunSchema, { status: RunStatus.RUNNING }))).toBe(0);
  });
  it("is full once the run has ended", () => {
    expect(progress(create(RunSchema, { status: RunStatus.SUCCEEDED, counts }))).toBe(1);
  });
});

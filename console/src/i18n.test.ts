import { describe, expect, it } from "vitest";
import { messages, pickLanguage } from "./i18n";

describe("language choice", () => {
  it("follows the first Chinese or English entry of navigator.languages", () => {
    expect(pickLanguage(["zh-CN", "en-US"])).toBe("zh");
    expect(pickLanguage(["zh-Hant-TW"])).toBe("zh");
    expect(pickLanguage(["en-GB", "zh-CN"])).toBe("en");
    expect(pickLanguage(["de-DE", "zh-CN", "en"])).toBe("zh");
    expect(pickLanguage(["fr", "de"])).toBe("en");
    expect(pickLanguage([])).toBe("en");
  });

  it("a choice made in the page wins; an unknown stored value is ignored", () => {
    expect(pickLanguage(["zh-CN"], "en")).toBe("en");
    expect(pickLanguage(["en-US"], "zh")).toBe("zh");
    expect(pickLanguage(["zh-CN"], "fr")).toBe("zh");
    expect(pickLanguage(["en-US"], null)).toBe("en");
  });

  it("both languages have every text, and they differ", () => {
    const en = messages("en");
    const zh = messages("zh");
    expect(Object.keys(zh).sort()).toEqual(Object.keys(en).sort());
    for (const k of Object.keys(en) as (keyof typeof en)[]) {
      expect(zh[k], k).not.toBe("");
    }
    expect(zh.deadLetters).toBe("死信");
    expect(en.deadLetters).toBe("Dead letters");
  });
});

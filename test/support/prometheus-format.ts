/**
 * A strict reader of the Prometheus text exposition format 0.0.4 (prometheus.io, "Exposition
 * formats"), for tests: it throws on the first line that a Prometheus server would reject or
 * misread, and checks what the format says of histograms. Hand-written because no well-kept parser
 * of the text format exists on npm (the one published, parse-prometheus-text-format, last changed in
 * 2018 and is lenient); the grammar is small.
 *
 * Checked: the line grammar (metric and label names, label value escapes, Go float values, optional
 * timestamp), one HELP and one TYPE per family, TYPE before the family's first sample, each family's
 * lines in one group, no duplicate series; counters non-negative and named `_total`; histograms
 * with `_bucket` (an `le` label), `_sum` and `_count` only, per series `le` increasing, counts
 * non-decreasing, a `+Inf` bucket equal to `_count`.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string | undefined;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^[+-]?(?:Inf|NaN|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseValue(text: string, at: string): number {
  if (!FLOAT.test(text)) throw new Error(`${at}: "${text}" is not a float`);
  if (/^\+?Inf$/.test(text)) return Infinity;
  if (text === "-Inf") return -Infinity;
  if (/NaN/.test(text)) return NaN;
  return Number(text);
}

/** name{labels} value [timestamp] */
function parseSample(line: string, at: string): Sample {
  const nameEnd = line.search(/[{ ]/);
  if (nameEnd <= 0) throw new Error(`${at}: no value`);
  const name = line.slice(0, nameEnd);
  if (!METRIC_NAME.test(name)) throw new Error(`${at}: bad metric name "${name}"`);
  const labels: Record<string, string> = {};
  let i = nameEnd;
  if (line[i] === "{") {
    i++;
    for (;;) {
      if (line[i] === "}") { i++; break; }
      const eq = line.indexOf("=", i);
      if (eq < 0) throw new Error(`${at}: label without "="`);
      const label = line.slice(i, eq);
      if (!LABEL_NAME.test(label) || label.startsWith("__")) throw new Error(`${at}: bad label name "${label}"`);
      if (Object.hasOwn(labels, label)) throw new Error(`${at}: label "${label}" twice`);
      if (line[eq + 1] !== '"') throw new Error(`${at}: label value must be quoted`);
      let value = "";
      let j = eq + 2;
      for (;; j++) {
        const ch = line[j];
        if (ch === undefined) throw new Error(`${at}: unterminated label value`);
        if (ch === '"') break;
        if (ch === "\\") {
          const next = line[++j];
          if (next === "\\") value += "\\";
          else if (next === '"') value += '"';
          else if (next === "n") value += "\n";
          else throw new Error(`${at}: bad escape "\\${next}" in a label value`);
        } else value += ch;
      }
      labels[label] = value;
      i = j + 1;
      if (line[i] === ",") i++;
      else if (line[i] !== "}") throw new Error(`${at}: expected "," or "}" after a label`);
    }
  }
  if (line[i] !== " ") throw new Error(`${at}: expected a space before the value`);
  const rest = line.slice(i + 1).split(" ");
  if (rest.length > 2 || rest[0] === "") throw new Error(`${at}: expected "value [timestamp]"`);
  const value = parseValue(rest[0]!, at);
  if (rest.length === 2 && !/^-?\d+$/.test(rest[1]!)) throw new Error(`${at}: bad timestamp "${rest[1]}"`);
  return { name, labels, value };
}

/** The family a sample belongs to: a histogram's _bucket, _sum and _count belong to the histogram. */
function familyOf(sample: string, types: Map<string, string>): string {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (sample.endsWith(suffix)) {
      const base = sample.slice(0, -suffix.length);
      if (types.get(base) === "histogram" || types.get(base) === "summary") return base;
    }
  }
  return sample;
}

const seriesKey = (labels: Record<string, string>, without?: string) =>
  JSON.stringify(Object.entries(labels).filter(([k]) => k !== without).sort(([a], [b]) => a.localeCompare(b)));

/** Parses and checks `text`; throws an Error naming the line of the first problem. */
export function parsePrometheusText(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith("\n")) throw new Error("the last line must end with a line feed");
  const families = new Map<string, Family>();
  const types = new Map<string, string>();
  const finished = new Set<string>();
  const series = new Set<string>();
  let current: string | undefined;
  const lines = text.split("\n").slice(0, -1);
  const enter = (name: string, at: string) => {
    if (current === name) return;
    if (finished.has(name)) throw new Error(`${at}: the lines of "${name}" are not in one group`);
    if (current !== undefined) finished.add(current);
    current = name;
  };
  lines.forEach((raw, index) => {
    const at = `line ${index + 1}`;
    const line = raw;
    if (line.trim() === "") return;
    if (line.startsWith("#")) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!m) return; // a comment
      const [, keyword, name, rest = ""] = m;
      if (!METRIC_NAME.test(name!)) throw new Error(`${at}: bad metric name "${name}"`);
      enter(name!, at);
      let family = families.get(name!);
      if (!family) families.set(name!, (family = { name: name!, type: "untyped", help: undefined, samples: [] }));
      if (keyword === "HELP") {
        if (family.help !== undefined) throw new Error(`${at}: second HELP for "${name}"`);
        family.help = rest;
      } else {
        if (types.has(name!)) throw new Error(`${at}: second TYPE for "${name}"`);
        if (family.samples.length > 0) throw new Error(`${at}: TYPE for "${name}" after its samples`);
        if (!TYPES.has(rest.trim())) throw new Error(`${at}: unknown type "${rest}"`);
        types.set(name!, rest.trim());
        family.type = rest.trim();
      }
      return;
    }
    const sample = parseSample(line, at);
    const name = familyOf(sample.name, types);
    enter(name, at);
    let family = families.get(name);
    if (!family) families.set(name, (family = { name, type: "untyped", help: undefined, samples: [] }));
    const key = sample.name + seriesKey(sample.labels);
    if (series.has(key)) throw new Error(`${at}: duplicate series ${sample.name}${seriesKey(sample.labels)}`);
    series.add(key);
    family.samples.push(sample);
  });
  for (const family of families.values()) checkFamily(family);
  return families;
}

function checkFamily(family: Family): void {
  const { name, type, samples } = family;
  if (type === "counter") {
    if (!name.endsWith("_total")) throw new Error(`counter "${name}" should end in _total`);
    for (const s of samples) if (s.name !== name || !(s.value >= 0)) throw new Error(`counter "${name}": bad sample ${s.name} ${s.value}`);
  }
  if (type !== "histogram") return;
  const byRest = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const s of samples) {
    const rest = seriesKey(s.labels, "le");
    let h = byRest.get(rest);
    if (!h) byRest.set(rest, (h = { buckets: [] }));
    if (s.name === `${name}_bucket`) {
      if (s.labels.le === undefined) throw new Error(`histogram "${name}": a bucket without le`);
      h.buckets.push([parseValue(s.labels.le, `${name} le`), s.value]);
    } else if (s.name === `${name}_sum`) h.sum = s.value;
    else if (s.name === `${name}_count`) h.count = s.value;
    else throw new Error(`histogram "${name}": unexpected sample ${s.name}`);
  }
  for (const [rest, h] of byRest) {
    if (h.sum === undefined || h.count === undefined) throw new Error(`histogram "${name}" ${rest}: needs _sum and _count`);
    for (let i = 1; i < h.buckets.length; i++) {
      if (!(h.buckets[i]![0] > h.buckets[i - 1]![0])) throw new Error(`histogram "${name}" ${rest}: le not increasing`);
      if (h.buckets[i]![1] < h.buckets[i - 1]![1]) throw new Error(`histogram "${name}" ${rest}: bucket counts decrease`);
    }
    const last = h.buckets.at(-1);
    if (!last || last[0] !== Infinity) throw new Error(`histogram "${name}" ${rest}: no le="+Inf" bucket`);
    if (last[1] !== h.count) throw new Error(`histogram "${name}" ${rest}: +Inf bucket ${last[1]} != _count ${h.count}`);
  }
}

/** The value of the series `name` whose labels include `labels`, or undefined. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string>): number | undefined {
  for (const family of families.values()) {
    for (const s of family.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}

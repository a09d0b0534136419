// Ginkgo's JSON report (--json-report): the specs, their state and failure, by full name.

export interface SpecResult {
  name: string;
  /** passed | failed | skipped | pending | panicked | timedout | interrupted | aborted */
  state: string;
  labels: string[];
  file: string;
  line: number;
  runMs: number;
  failure?: { message: string; location: string };
}

interface Location {
  FileName: string;
  LineNumber: number;
}

interface RawSpec {
  ContainerHierarchyTexts: string[] | null;
  LeafNodeType: string;
  LeafNodeText: string;
  LeafNodeLabels: string[] | null;
  LeafNodeLocation: Location;
  State: string;
  RunTime?: number;
  Failure?: { Message: string; Location: Location };
}

interface RawSuite {
  SpecReports: RawSpec[] | null;
}

/** Ginkgo's full text of a spec: its containers' texts and its own, joined by spaces. */
export function fullName(containers: readonly string[] | null, leaf: string): string {
  return [...(containers ?? []), leaf].join(' ');
}

/** The It specs of a report (suite setup nodes left out). */
export function parseReport(json: string): SpecResult[] {
  const suites = JSON.parse(json) as RawSuite[];
  const out: SpecResult[] = [];
  for (const suite of suites) {
    for (const s of suite.SpecReports ?? []) {
      if (s.LeafNodeType !== 'It') continue;
      const r: SpecResult = {
        name: fullName(s.ContainerHierarchyTexts, s.LeafNodeText),
        state: s.State,
        labels: s.LeafNodeLabels ?? [],
        file: s.LeafNodeLocation.FileName,
        line: s.LeafNodeLocation.LineNumber,
        runMs: Math.round((s.RunTime ?? 0) / 1e6),
      };
      if (s.Failure && s.State !== 'passed' && s.State !== 'skipped') {
        r.failure = { message: s.Failure.Message, location: `${s.Failure.Location.FileName}:${s.Failure.Location.LineNumber}` };
      }
      out.push(r);
    }
  }
  return out;
}

/** A regular expression matching exactly these names inside ginkgo's full text (for --skip). */
export function namesRegex(names: readonly string[]): string {
  return names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
}

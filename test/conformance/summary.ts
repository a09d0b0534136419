// The run's summary: what was selected, what ran, passed and failed, and what was skipped because
// an image it needs cannot be built here (each spec with its images), as JSON and Markdown.
import type { SpecResult } from './ginkgo-report.js';

export interface Summary {
  kubernetesVersion: string;
  mode: 'parallel' | 'serial';
  /** mk's driver of the cluster the specs ran on. */
  driver: string;
  labelFilter: string;
  focus: string[];
  skip: string[];
  wallSeconds: number;
  counts: { selected: number; ran: number; passed: number; failed: number; skippedForImage: number; skippedAtRuntime: number; notRun: number };
  failed: Array<{ name: string; state: string; location: string; message: string }>;
  skippedForImage: Array<{ name: string; images: string[] }>;
  skippedAtRuntime: Array<{ name: string; message: string }>;
  /** The framework's images that were not available on the nodes, with the reason. */
  unavailableImages: Array<{ id: string; image: string; reason: string }>;
  timings: Record<string, number>;
}

const FAILED = new Set(['failed', 'panicked', 'timedout', 'interrupted', 'aborted']);

export interface SummaryInput {
  kubernetesVersion: string;
  mode: Summary['mode'];
  driver: string;
  labelFilter: string;
  focus: string[];
  skip: string[];
  wallSeconds: number;
  /** The specs the selection (label filter, focus, skip) picks, before the image skips. */
  selected: readonly string[];
  /** spec name -> the images it needs that are not available. */
  imageSkips: ReadonlyMap<string, readonly string[]>;
  results: readonly SpecResult[];
  unavailableImages: Summary['unavailableImages'];
  timings: Record<string, number>;
}

export function summarize(i: SummaryInput): Summary {
  const byName = new Map(i.results.map((r) => [r.name, r]));
  const s: Summary = {
    kubernetesVersion: i.kubernetesVersion,
    mode: i.mode,
    driver: i.driver,
    labelFilter: i.labelFilter,
    focus: i.focus,
    skip: i.skip,
    wallSeconds: i.wallSeconds,
    counts: { selected: i.selected.length, ran: 0, passed: 0, failed: 0, skippedForImage: 0, skippedAtRuntime: 0, notRun: 0 },
    failed: [],
    skippedForImage: [],
    skippedAtRuntime: [],
    unavailableImages: i.unavailableImages,
    timings: i.timings,
  };
  for (const name of i.selected) {
    const images = i.imageSkips.get(name);
    if (images) {
      s.skippedForImage.push({ name, images: [...images] });
      continue;
    }
    const r = byName.get(name);
    if (!r || r.state === 'pending') {
      s.counts.notRun++;
    } else if (r.state === 'passed') {
      s.counts.ran++;
      s.counts.passed++;
    } else if (FAILED.has(r.state)) {
      s.counts.ran++;
      s.counts.failed++;
      s.failed.push({ name, state: r.state, location: r.failure?.location ?? `${r.file}:${r.line}`, message: r.failure?.message ?? '' });
    } else {
      s.counts.skippedAtRuntime++;
      s.skippedAtRuntime.push({ name, message: r.failure?.message ?? '' });
    }
  }
  s.counts.skippedForImage = s.skippedForImage.length;
  return s;
}

const firstLine = (m: string, max = 300) => {
  const l = m.trim().split('\n')[0] ?? '';
  return l.length > max ? `${l.slice(0, max)}…` : l;
};

export function toMarkdown(s: Summary): string {
  const c = s.counts;
  const out = [
    `# Conformance on mk: Kubernetes ${s.kubernetesVersion}, ${s.mode}, ${s.driver} driver`,
    '',
    `Selection: label filter \`${s.labelFilter}\`${s.focus.length ? `, focus \`${s.focus.join('` `')}\`` : ''}${s.skip.length ? `, skip \`${s.skip.join('` `')}\`` : ''}.`,
    '',
    `| selected | ran | passed | failed | skipped: image not available | skipped by the spec itself | not run |`,
    `|---|---|---|---|---|---|---|`,
    `| ${c.selected} | ${c.ran} | ${c.passed} | ${c.failed} | ${c.skippedForImage} | ${c.skippedAtRuntime} | ${c.notRun} |`,
    '',
    `Wall time ${Math.round(s.wallSeconds)} s (${Object.entries(s.timings).map(([k, v]) => `${k} ${Math.round(v)} s`).join(', ')}).`,
  ];
  if (s.failed.length) {
    out.push('', '## Failed', '');
    for (const f of s.failed) out.push(`- **${f.name}** (${f.state}, ${f.location}): ${firstLine(f.message)}`);
  }
  if (s.skippedForImage.length) {
    out.push('', '## Skipped: an image they need is not built here', '');
    for (const k of s.skippedForImage) out.push(`- ${k.name}: ${k.images.join(', ')}`);
  }
  if (s.skippedAtRuntime.length) {
    out.push('', '## Skipped by the spec itself', '');
    for (const k of s.skippedAtRuntime) out.push(`- ${k.name}: ${firstLine(k.message)}`);
  }
  if (s.unavailableImages.length) {
    out.push('', '## Framework images not available on the nodes', '');
    for (const u of s.unavailableImages) out.push(`- ${u.image} (${u.id}): ${u.reason}`);
  }
  return `${out.join('\n')}\n`;
}

import { describe, expect, it } from 'vitest';
import { parseManifest } from '../conformance/framework-images.js';
import { fullName, namesRegex, parseReport } from '../conformance/ginkgo-report.js';
import { blockEnd, importName, lineOffset, topLevelFuncs } from '../conformance/go-source.js';
import { PULL_ALWAYS, imageUsers } from '../conformance/image-users.js';
import { summarize, toMarkdown } from '../conformance/summary.js';
import { unavailableImages } from '../conformance/unavailable.js';

const MANIFEST = `
var (
	initRegistry = RegistryList{
		PromoterE2eRegistry:      "registry.k8s.io/e2e-test-images",
		GcRegistry:               "registry.k8s.io",
	}
)
func initImageConfigs(list RegistryList) (map[ImageID]Config, map[ImageID]Config) {
	configs := map[ImageID]Config{}
	configs[AgnhostPrev] = Config{list.PromoterE2eRegistry, "agnhost", "2.55"}
	configs[Agnhost] = Config{list.PromoterE2eRegistry, "agnhost", "2.63.0"}
	configs[Pause] = Config{list.GcRegistry, "pause", "3.10.2"}
`;

describe('framework images', () => {
  it('reads every ImageID with the name GetE2EImage gives it', () => {
    expect(parseManifest(MANIFEST)).toEqual([
      { id: 'AgnhostPrev', image: 'registry.k8s.io/e2e-test-images/agnhost:2.55' },
      { id: 'Agnhost', image: 'registry.k8s.io/e2e-test-images/agnhost:2.63.0' },
      { id: 'Pause', image: 'registry.k8s.io/pause:3.10.2' },
    ]);
  });
  it('refuses a config whose registry field it does not know', () => {
    expect(() => parseManifest(MANIFEST.replace('list.GcRegistry', 'list.OtherRegistry'))).toThrow(/Pause uses unknown registry field OtherRegistry/);
  });
  it('lists what is neither built nor on the nodes, with a reason', () => {
    const u = unavailableImages(parseManifest(MANIFEST), ['registry.k8s.io/e2e-test-images/agnhost:2.63.0'], ['registry.k8s.io/pause:3.10.2']);
    expect(u).toEqual([{ id: 'AgnhostPrev', image: 'registry.k8s.io/e2e-test-images/agnhost:2.55', reason: 'not built by scripts/conformance-build.sh' }]);
    const none = unavailableImages(parseManifest(MANIFEST.replace('"agnhost", "2.55"', '"invalid", "1"').replace('AgnhostPrev', 'InvalidRegistryImage')), [], []);
    expect(none.find((x) => x.id === 'InvalidRegistryImage')?.reason).toMatch(/on purpose|must not exist/);
  });
});

describe('Go source scanning', () => {
  it('matches braces past strings, runes, raw strings, comments and empty {} in signatures', () => {
    const src = 'func f(x interface{}) {\n\ts := "}{"\n\tr := \'}\'\n\tq := `}\n{`\n\t// }\n\t/* } */\n\tif x { g() }\n}\nfunc g() {}\n';
    const end = blockEnd(src, 0);
    expect(src.slice(end - 1, end + 5)).toBe('}\nfunc');
  });
  it('finds top-level functions and methods, and the import name of a package', () => {
    const src = 'package p\n\nimport (\n\timageutils "k8s.io/kubernetes/test/utils/image"\n)\n\nfunc (c *T) Helper() {\n}\n\nfunc other(a struct{}) {\n\tx()\n}\n';
    expect(topLevelFuncs(src).map((f) => f.name)).toEqual(['Helper', 'other']);
    expect(importName(src, 'k8s.io/kubernetes/test/utils/image')).toBe('imageutils');
    expect(importName('import "k8s.io/kubernetes/test/utils/image"', 'k8s.io/kubernetes/test/utils/image')).toBe('image');
    expect(importName(src, 'k8s.io/other')).toBeUndefined();
    expect(src.slice(lineOffset(src, 7), lineOffset(src, 7) + 4)).toBe('func');
  });
});

describe('which specs use which images', () => {
  const specFile = [
    'package apps', // 1
    'import imageutils "k8s.io/kubernetes/test/utils/image"', // 2
    'var _ = Describe("x", func() {', // 3
    '\tIt("uses prev directly", func(ctx context.Context) {', // 4
    '\t\timg := imageutils.GetE2EImage(imageutils.AgnhostPrev)', // 5
    '\t})', // 6
    '\tIt("uses the local helper", func(ctx context.Context) {', // 7
    '\t\tmakePod("a")', // 8
    '\t})', // 9
    '\tIt("uses only agnhost", func(ctx context.Context) {', // 10
    '\t\t_ = imageutils.GetE2EImage(imageutils.Agnhost)', // 11
    '\t})', // 12
    '\tIt("uses the exported helper", func(ctx context.Context) {', // 13
    '\t\tfixtures.NewStatefulSet("a")', // 14
    '\t})', // 15
    '})', // 16
    'func makePod(n string) { _ = imageutils.GetE2EImage(imageutils.APIServer) }', // 17
    'var pulled = []string{imageutils.GetE2EImage(imageutils.Kitten)}', // 18
  ].join('\n');
  const fixtures = 'package fixtures\nimport imageutils "k8s.io/kubernetes/test/utils/image"\nfunc NewStatefulSet(n string) {\n\t_ = imageutils.AgnhostPrev\n}\n';
  const other = 'package other\nimport imageutils "k8s.io/kubernetes/test/utils/image"\nvar _ = It("calls a same-named unexported helper elsewhere", func() { makePod() })\n';
  const sources = new Map([
    ['e2e/apps/a.go', specFile],
    ['e2e/framework/fixtures.go', fixtures],
    ['e2e/other/b.go', other],
  ]);
  const specs = [
    { name: 'x uses prev directly', file: 'e2e/apps/a.go', line: 4 },
    { name: 'x uses the local helper', file: 'e2e/apps/a.go', line: 7 },
    { name: 'x uses only agnhost', file: 'e2e/apps/a.go', line: 10 },
    { name: 'x uses the exported helper', file: 'e2e/apps/a.go', line: 13 },
    { name: 'calls a same-named unexported helper elsewhere', file: 'e2e/other/b.go', line: 3 },
  ];
  const users = imageUsers(sources, specs, new Set(['AgnhostPrev', 'APIServer', 'Kitten']));
  const always = imageUsers(
    new Map([['e2e/n/v.go', 'package n\nvar _ = It("pulls always", func() {\n\tcreate(v1.PullAlways)\n})\nvar _ = It("pulls if missing", func() {\n\tcreate(v1.PullIfNotPresent)\n})\n']]),
    [
      { name: 'pulls always', file: 'e2e/n/v.go', line: 2 },
      { name: 'pulls if missing', file: 'e2e/n/v.go', line: 5 },
    ],
    new Set(),
    [PULL_ALWAYS],
  );
  it('marks specs through their bodies and one level of helpers', () => {
    expect(Object.fromEntries([...users].map(([k, v]) => [k, [...v]]))).toEqual({
      'x uses prev directly': ['AgnhostPrev'],
      'x uses the local helper': ['APIServer'],
      'x uses the exported helper': ['AgnhostPrev'],
    });
  });
  it('marks specs that pull always (they need a registry), with no image package imported', () => {
    expect([...always.keys()]).toEqual(['pulls always']);
  });
  it('leaves out image lists outside functions and unexported helpers of other packages', () => {
    expect(users.has('calls a same-named unexported helper elsewhere')).toBe(false);
    expect(users.has('x uses only agnhost')).toBe(false);
  });
});

describe('ginkgo report and summary', () => {
  const spec = (leaf: string, state: string, failure?: string) => ({
    ContainerHierarchyTexts: ['[sig-network] DNS'],
    LeafNodeType: 'It',
    LeafNodeText: leaf,
    LeafNodeLabels: ['Conformance'],
    LeafNodeLocation: { FileName: 'k8s.io/kubernetes@v1.36.3/test/e2e/network/dns.go', LineNumber: 10 },
    State: state,
    RunTime: 2_500_000_000,
    ...(failure ? { Failure: { Message: failure, Location: { FileName: 'dns.go', LineNumber: 99 } } } : {}),
  });
  const report = JSON.stringify([
    {
      SpecReports: [
        { ...spec('', 'passed'), LeafNodeType: 'SynchronizedBeforeSuite' },
        spec('should resolve [Conformance]', 'passed'),
        spec('should fail [Conformance]', 'failed', 'timed out waiting\nmore'),
        spec('should skip itself [Conformance]', 'skipped', 'Only supported for providers [gce]'),
        spec('needs prev [Conformance]', 'skipped'),
      ],
    },
  ]);
  const results = parseReport(report);
  it('keeps only It specs, with full names, failures and run time', () => {
    expect(results.map((r) => r.name)).toEqual([
      '[sig-network] DNS should resolve [Conformance]',
      '[sig-network] DNS should fail [Conformance]',
      '[sig-network] DNS should skip itself [Conformance]',
      '[sig-network] DNS needs prev [Conformance]',
    ]);
    expect(results[1]).toMatchObject({ state: 'failed', runMs: 2500, failure: { message: 'timed out waiting\nmore', location: 'dns.go:99' } });
    expect(fullName(null, 'leaf')).toBe('leaf');
  });
  it('escapes names into one --skip regex that matches each name and nothing shorter', () => {
    const re = new RegExp(namesRegex(['a [Conformance] (x)', 'b.c']));
    expect(re.test('a [Conformance] (x)')).toBe(true);
    expect(re.test('a C')).toBe(false);
    expect(re.test('bxc')).toBe(false);
  });
  it('counts passed, failed, skipped for an image and by the spec itself, and what did not run', () => {
    const s = summarize({
      kubernetesVersion: 'v1.36.3',
      mode: 'parallel',
      driver: 'ssh',
      labelFilter: 'Conformance && !Serial',
      focus: [],
      skip: [],
      wallSeconds: 60,
      selected: [...results.map((r) => r.name), '[sig-network] DNS never reported'],
      imageSkips: new Map([['[sig-network] DNS needs prev [Conformance]', ['registry.k8s.io/e2e-test-images/agnhost:2.55']]]),
      results,
      unavailableImages: [],
      timings: { ginkgo: 50 },
    });
    expect(s.counts).toEqual({ selected: 5, ran: 2, passed: 1, failed: 1, skippedForImage: 1, skippedAtRuntime: 1, notRun: 1 });
    expect(s.failed[0]).toMatchObject({ name: '[sig-network] DNS should fail [Conformance]', location: 'dns.go:99' });
    const md = toMarkdown(s);
    expect(md).toContain('| 5 | 2 | 1 | 1 | 1 | 1 | 1 |');
    expect(md).toMatch(/^# Conformance on mk: Kubernetes v1\.36\.3, parallel, ssh driver$/m);
    expect(md).toContain('- [sig-network] DNS needs prev [Conformance]: registry.k8s.io/e2e-test-images/agnhost:2.55');
    expect(md).toContain('timed out waiting');
    expect(md).not.toContain('more');
  });
});

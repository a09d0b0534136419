// The images phase without Docker: what a node's runtime lists (ctr, docker), what an archive holds,
// the image.load step against the memory driver (a fake runtime and image source), and a reconcile
// that keeps spec.images on every node while a spec without images reads no node.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryDriver } from '../../src/drivers/memory.js';
import type { ExecResult, ImageSource, NodeImage, SourceImage } from '../../src/drivers/types.js';
import { StepError } from '../../src/errors.js';
import { readArchive } from '../../src/images/archive.js';
import { images } from '../../src/images/phase.js';
import type { ImageStep } from '../../src/images/plan.js';
import { holds, parseCtrImages, parseDockerImages, shortId } from '../../src/images/runtime.js';
import { RecordingReporter, type MkEvent } from '../../src/log.js';
import type { RunSpec } from '../../src/phase/types.js';
import { reconcile } from '../../src/reconcile/runner.js';
import { normalizeImageRef } from '../../src/spec/image-refs.js';
import type { Cluster } from '../../src/spec/types.js';
import { aCluster } from './builders.js';

const ID = (c: string) => `sha256:${c.repeat(64)}`;
const DIGEST = (c: string) => `sha256:${c.repeat(63)}0`;

// containerd 1.6's `ctr -n k8s.io images ls` on a test node, with the ID refs the CRI plugin adds.
const CTR = `REF                                     TYPE                                                 DIGEST                                                                  SIZE      PLATFORMS   LABELS
docker.io/library/app:dev               application/vnd.docker.distribution.manifest.v2+json ${DIGEST('1')} 11.3 KiB  linux/amd64 io.cri-containerd.image=managed
registry.k8s.io/pause:3.10.2            application/vnd.docker.distribution.manifest.v2+json ${DIGEST('2')} 761.3 KiB linux/amd64 io.cri-containerd.image=managed
${ID('a')} application/vnd.docker.distribution.manifest.v2+json ${DIGEST('1')} 11.3 KiB  linux/amd64 io.cri-containerd.image=managed
`;

describe('what a node runtime lists', () => {
  it('ctr: references with the ID the CRI plugin names them by (else the manifest digest), sizes', () => {
    const held = parseCtrImages(CTR);
    expect(held).toEqual([
      { ref: 'docker.io/library/app:dev', id: ID('a'), digest: DIGEST('1'), size: '11.3 KiB' },
      { ref: 'registry.k8s.io/pause:3.10.2', id: DIGEST('2'), digest: DIGEST('2'), size: '761.3 KiB' },
    ]);
    expect(holds(held, 'app:dev')).toBe(true);
    expect(holds(held, 'app:dev', ID('a'))).toBe(true);
    expect(holds(held, 'app:dev', ID('b'))).toBe(false);
    expect(holds(held, 'registry.k8s.io/pause:3.10.2', DIGEST('2'))).toBe(true);
    expect(holds(held, 'app:other')).toBe(false);
    expect(parseCtrImages('REF TYPE DIGEST SIZE PLATFORMS LABELS \n')).toEqual([]);
    expect(shortId(ID('a'))).toBe('sha256:aaaaaaaaaaaa');
  });

  it('docker: references in full, untagged images left out', () => {
    expect(parseDockerImages(`nginx:1.27\t${ID('b')}\t72MB\n<none>:<none>\t${ID('c')}\t1MB\n`)).toEqual([{ ref: 'docker.io/library/nginx:1.27', id: ID('b'), size: '72MB' }]);
  });
});

describe('image archives', () => {
  const dir = mkdtemp(join(tmpdir(), 'mk-images-unit-'));
  afterAll(async () => rm(await dir, { recursive: true, force: true }));

  async function tarFile(name: string, files: Record<string, string | Buffer>, gzip = false): Promise<string> {
    const p = pack();
    const chunks: Buffer[] = [];
    p.on('data', (c: unknown) => chunks.push(c as Buffer));
    const ended = new Promise<void>((r) => p.on('end', () => r()));
    for (const [path, content] of Object.entries(files)) p.entry({ name: path }, content);
    p.finalize();
    await ended;
    const file = join(await dir, name);
    await writeFile(file, gzip ? gzipSync(Buffer.concat(chunks)) : Buffer.concat(chunks));
    return file;
  }

  it('docker save: every tag with the image ID (legacy and Docker 25 layouts), gzip too', async () => {
    const legacy = await tarFile('legacy.tar', {
      [`${'a'.repeat(64)}.json`]: '{}',
      'layer/layer.tar': Buffer.alloc(2048),
      'manifest.json': JSON.stringify([{ Config: `${'a'.repeat(64)}.json`, RepoTags: ['app:dev', 'mk.local/app:v1'], Layers: ['layer/layer.tar'] }]),
    });
    expect(await readArchive(legacy)).toEqual({
      path: legacy,
      bytes: expect.any(Number) as unknown,
      images: [
        { ref: 'docker.io/library/app:dev', id: ID('a') },
        { ref: 'mk.local/app:v1', id: ID('a') },
      ],
    });
    const modern = await tarFile('modern.tar.gz', { [`blobs/sha256/${'b'.repeat(64)}`]: '{}', 'manifest.json': JSON.stringify([{ Config: `blobs/sha256/${'b'.repeat(64)}`, RepoTags: ['nginx:1.27'] }]), 'index.json': '{"manifests":[]}' }, true);
    expect((await readArchive(modern)).images).toEqual([{ ref: 'docker.io/library/nginx:1.27', id: ID('b') }]);
  });

  it('OCI layout: the name annotation, the config digest through an index to this platform', async () => {
    const config = { digest: ID('c') };
    const manifest = JSON.stringify({ mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [] });
    const index = JSON.stringify({ mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ digest: DIGEST('d'), platform: { os: 'linux', architecture: 'amd64' } }] });
    const file = await tarFile('oci.tar', {
      'oci-layout': '{"imageLayoutVersion":"1.0.0"}',
      [`blobs/sha256/${'d'.repeat(63)}0`]: manifest,
      [`blobs/sha256/${'e'.repeat(64)}`]: index,
      'index.json': JSON.stringify({ manifests: [{ digest: ID('e'), annotations: { 'io.containerd.image.name': 'registry.example.com/team/api:v3' } }, { digest: ID('f'), annotations: { 'org.opencontainers.image.ref.name': 'v1' } }] }),
    });
    // The bare tag "v1" names no repository: left out.
    expect((await readArchive(file)).images).toEqual([{ ref: 'registry.example.com/team/api:v3', id: ID('c') }]);
  });

  it('refuses a file that is no image archive, and one that names no image', async () => {
    await writeFile(join(await dir, 'notes.txt'), 'hello');
    await expect(readArchive(join(await dir, 'notes.txt'))).rejects.toThrow(/is not an image archive/);
    const plain = await tarFile('plain.tar', { 'a.txt': 'x' });
    await expect(readArchive(plain)).rejects.toThrow(/neither manifest.json \(docker save\) nor index.json/);
    const unnamed = await tarFile('unnamed.tar', { 'manifest.json': JSON.stringify([{ Config: `${'a'.repeat(64)}.json`, RepoTags: null }]) });
    await expect(readArchive(unnamed)).rejects.toThrow(/names no image/);
  });
});

/** A node runtime (ctr) in the memory driver: per node what it holds; an import adds what the source last saved. */
class FakeWorld {
  readonly held = new Map<string, NodeImage[]>();
  readonly imports: { node: string; bytes: number }[] = [];
  readonly local = new Map<string, SourceImage>();
  pullable = new Set<string>();
  pulls: string[] = [];
  private saved: string[] = [];

  source: ImageSource = {
    description: 'the fake engine',
    inspect: (ref) => Promise.resolve(this.local.get(ref)),
    pullable: (ref) => Promise.resolve(this.pullable.has(ref) ? undefined : 'no such host'),
    pull: (ref) => {
      this.pulls.push(ref);
      this.local.set(ref, { ref, id: ID('9'), size: 1000 });
      return Promise.resolve();
    },
    save: (refs) => {
      this.saved = [...refs];
      const size = refs.reduce((n, r) => n + (this.local.get(r)?.size ?? 0), 0);
      return Promise.resolve(Readable.from([Buffer.alloc(size)]));
    },
  };

  /** Like containerd's CRI plugin: a new image is named by its ID too, a new build under a known name is not. */
  exec = (node: string, argv: readonly string[], stdin?: number): ExecResult => {
    const held = this.held.get(node) ?? [];
    const cmd = argv.join(' ');
    const ok = { stdout: '', stderr: '', exitCode: 0 };
    if (cmd === 'ctr -n k8s.io images ls') {
      const rows = held.flatMap((h, i) => [`${h.ref} type ${DIGEST(String(i))} 1 KiB linux/amd64 -`, ...(h.id.startsWith('sha256:') ? [`${h.id} type ${DIGEST(String(i))} 1 KiB linux/amd64 -`] : [])]);
      return { ...ok, stdout: ['REF TYPE DIGEST SIZE PLATFORMS LABELS', ...rows].join('\n') };
    }
    if (cmd === 'ctr -n k8s.io images import -') {
      this.imports.push({ node, bytes: stdin ?? 0 });
      const added = this.saved.map((r) => {
        const ref = normalizeImageRef(r);
        return { ref, id: held.some((h) => h.ref === ref) ? 'unnamed' : this.local.get(r)!.id };
      });
      this.held.set(node, [...held.filter((h) => !added.some((a) => a.ref === h.ref)), ...added]);
      return ok;
    }
    if (cmd.startsWith('ctr -n k8s.io images tag --force ')) {
      const [ref, id] = argv.slice(-2);
      this.tags.push(`${node} ${ref} ${id}`);
      this.held.set(node, held.map((h) => (h.ref === ref ? { ...h, id: id! } : h)));
    }
    return ok;
  };
  readonly tags: string[] = [];
}

const cluster = (...refs: string[]): Cluster => aCluster('dev').withWorkers(2).withoutKubernetes().withImages(...refs).build();

describe('image.load', () => {
  const setup = async (c: Cluster) => {
    const world = new FakeWorld();
    const driver = new MemoryDriver({ imageSource: world.source, onExec: world.exec });
    await reconcile(aCluster('dev').withWorkers(2).withoutKubernetes().build(), { driver, reporter: new RecordingReporter(), mode: 'apply' });
    const reporter = new RecordingReporter();
    const run: RunSpec = { cluster: c, startedAt: Date.now(), switchContext: false, shared: new Map() };
    const load = (step: ImageStep) => images.kinds['image.load'].run({ driver, cluster: 'dev', reporter, signal: new AbortController().signal, run }, step, `image.load:${step.node}`);
    return { world, driver, reporter, load };
  };

  it('streams what the node lacks, says what it held already, then skips the node saying what it holds', async () => {
    const { world, load } = await setup(cluster('app:dev', 'nginx:1.27'));
    world.local.set('app:dev', { ref: 'app:dev', id: ID('a'), size: 3_000_000 });
    world.local.set('nginx:1.27', { ref: 'nginx:1.27', id: ID('b'), size: 2_000_000 });
    world.held.set('dev-worker-1', [{ ref: 'docker.io/library/nginx:1.27', id: ID('b') }]);
    const first = await load({ kind: 'image.load', node: 'dev-worker-1', images: ['app:dev', 'nginx:1.27'] });
    expect(first).toEqual({ outcome: 'done', detail: expect.stringMatching(/^3\.0 MB( at [\d.]+ MB\/s)?; held already: nginx:1\.27 \(sha256:bbbbbbbbbbbb\)$/) as unknown });
    expect(world.imports).toEqual([{ node: 'dev-worker-1', bytes: 3_000_000 }]);
    const again = await load({ kind: 'image.load', node: 'dev-worker-1', images: ['app:dev', 'nginx:1.27'] });
    expect(again).toEqual({ outcome: 'skipped', detail: 'node dev-worker-1 holds app:dev (sha256:aaaaaaaaaaaa), nginx:1.27 (sha256:bbbbbbbbbbbb)' });
    expect(world.imports).toHaveLength(1);
  });

  it('loads again an image rebuilt in the source (same name, another ID), and names it by its ID where the runtime did not', async () => {
    const { world, load } = await setup(cluster('app:dev'));
    world.local.set('app:dev', { ref: 'app:dev', id: ID('a'), size: 10 });
    world.held.set('dev-worker-2', [{ ref: 'docker.io/library/app:dev', id: ID('c') }]);
    expect((await load({ kind: 'image.load', node: 'dev-worker-2', images: ['app:dev'] })).outcome).toBe('done');
    expect(world.tags).toEqual([`dev-worker-2 docker.io/library/app:dev ${ID('a')}`]);
    expect(world.held.get('dev-worker-2')).toEqual([{ ref: 'docker.io/library/app:dev', id: ID('a') }]);
    expect((await load({ kind: 'image.load', node: 'dev-worker-2', images: ['app:dev'] })).outcome).toBe('skipped');
  });

  it('pulls an image the source lacks once for every node, and names how to get one no registry serves', async () => {
    const { world, load } = await setup(cluster('redis:7'));
    world.pullable.add('redis:7');
    await Promise.all(['dev-worker-1', 'dev-worker-2'].map((node) => load({ kind: 'image.load', node, images: ['redis:7'] })));
    expect(world.pulls).toEqual(['redis:7']);
    const err = await load({ kind: 'image.load', node: 'dev-worker-1', images: ['mk.local/api:v2'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toMatch(/image mk\.local\/api:v2 is not in the fake engine, and no registry serves it \(no such host\)\. Get it there first: docker build -t mk\.local\/api:v2 DIR/);
  });

  it('reports progress while a large image streams, and waits for a node that is not running', async () => {
    const { world, driver, reporter, load } = await setup(cluster('big:1'));
    world.local.set('big:1', { ref: 'big:1', id: ID('d'), size: 64 * 1024 * 1024 });
    // A slow source: 64 chunks over ~1.3 s.
    const save = world.source.save;
    world.source.save = async (refs) => {
      await save(refs);
      let n = 0;
      return new Readable({ read() { setTimeout(() => this.push(n++ < 64 ? Buffer.alloc(1024 * 1024) : null), 20); } });
    };
    await load({ kind: 'image.load', node: 'dev-worker-1', images: ['big:1'] });
    const progress = reporter.events.filter((e): e is Extract<MkEvent, { type: 'progress' }> => e.type === 'progress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]).toMatchObject({ cluster: 'dev', id: 'image.load:dev-worker-1', totalBytes: 64 * 1024 * 1024 });
    driver.setState('dev-worker-2', 'stopped');
    expect(await load({ kind: 'image.load', node: 'dev-worker-2', images: ['big:1'] })).toEqual({ outcome: 'waiting', detail: 'node dev-worker-2 is stopped' });
  });
});

describe('the images phase in a reconcile', () => {
  it('loads spec.images on every node, then a re-apply plans nothing; a spec without images reads no node', async () => {
    const world = new FakeWorld();
    world.local.set('app:dev', { ref: 'app:dev', id: ID('a'), size: 100 });
    const driver = new MemoryDriver({ imageSource: world.source, onExec: world.exec });
    const reporter = new RecordingReporter();
    const first = await reconcile(cluster('app:dev'), { driver, reporter, mode: 'apply' });
    expect(first.plan.steps.filter((s) => s.step.kind === 'image.load').map((s) => `${s.description} (${s.reason}) after ${s.dependsOn.join(' ')}`)).toEqual([
      'load image app:dev on node dev-control-plane-1 (new node) after node.create:dev-control-plane-1',
      'load image app:dev on node dev-worker-1 (new node) after node.create:dev-worker-1',
      'load image app:dev on node dev-worker-2 (new node) after node.create:dev-worker-2',
    ]);
    expect(world.imports.map((i) => i.node).sort()).toEqual(['dev-control-plane-1', 'dev-worker-1', 'dev-worker-2']);
    const second = await reconcile(cluster('app:dev'), { driver, reporter, mode: 'apply' });
    expect(second.plan.steps).toEqual([]);

    // A node removed by hand is created again and gets the images; a newly listed image goes everywhere.
    await driver.removeNode('dev', 'dev-worker-2');
    world.held.delete('dev-worker-2');
    world.local.set('nginx:1.27', { ref: 'nginx:1.27', id: ID('b'), size: 50 });
    const third = await reconcile(cluster('app:dev', 'nginx:1.27'), { driver, reporter, mode: 'apply' });
    expect(third.plan.steps.map((s) => `${s.description} (${s.reason})`)).toEqual([
      'create node dev-worker-2 (worker) (missing)',
      'load image nginx:1.27 on node dev-control-plane-1 (missing)',
      'load image nginx:1.27 on node dev-worker-1 (missing)',
      'load images app:dev, nginx:1.27 on node dev-worker-2 (new node)',
    ]);

    driver.resetCounters();
    const plain = await reconcile(aCluster('dev').withWorkers(2).withoutKubernetes().build(), { driver, reporter, mode: 'plan' });
    expect(plain.plan.steps).toEqual([]);
    expect(driver.calls.exec).toBe(0);
  });
});

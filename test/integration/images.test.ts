// Images into nodes on the real Docker engine: the mk CLI and a 3-node cluster of the tier-3 node
// image (containerd 1.6 from Debian; bootstrap: none, so no kubeadm), small images made here with
// docker import. mk image load (a second load is a no-op and says so), an archive load into one node,
// mk image ls; spec.images: plan, apply, in sync, a worker added later and a node recreated after
// docker rm -f get them, an image neither local nor pullable fails at plan time; then an image load
// over ssh into a host with containerd (test/k8s/ssh-host-image.sh). Needs the node images
// (test/k8s/node-image.sh, built when missing) and the Kubernetes test binaries; MK_E2E_TIER3=0 skips.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureNodeImage, tier3Skip } from '../k8s/cluster.js';
import { ensureSshHostImage, SshK8sHosts } from '../k8s/ssh-hosts.js';
import { buildCli, mk, mkJson, type JsonRun, type Run } from '../helpers/cli.js';
import { clusterYaml, controlPlanes, dockerDriver, sshDriver, workers } from '../helpers/spec.js';
import { removeLabelled, testEnv, uniqueClusterName, type TestEnv } from './helpers.js';

const run = promisify(execFile);
const skip = await tier3Skip();
const docker = async (...args: string[]) => (await run('docker', args, { maxBuffer: 64 * 1024 * 1024 })).stdout.trim();

/** A one-file image, made with docker import (different content, different ID). */
async function makeImage(dir: string, ref: string, content: string): Promise<void> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => p.on('end', () => r()));
  p.entry({ name: 'hello.txt' }, content);
  p.finalize();
  await ended;
  const file = join(dir, `${content}.tar`);
  await writeFile(file, Buffer.concat(chunks));
  await docker('import', '-c', 'CMD ["/hello.txt"]', file, ref);
}

/** References a node's containerd lists in k8s.io (the ID refs the CRI plugin adds left out). */
async function nodeImages(container: string): Promise<string[]> {
  const out = await docker('exec', container, 'ctr', '-n', 'k8s.io', 'images', 'ls', '-q');
  return out.split('\n').filter((r) => r && !r.startsWith('sha256:') && !r.startsWith('registry.k8s.io/')).sort();
}

const finished = (r: JsonRun) => r.events.filter((e) => e.type === 'step.finished').map((e) => `${e.step!.id} ${e.outcome}`).sort();

describe.skipIf(skip)('images into nodes (containerd, Docker driver)', () => {
  let t: TestEnv;
  let nodeImage = '';
  const name = uniqueClusterName('img');
  const [cp, w1, w2, w3] = [`${name}-cp-1`, `${name}-w-1`, `${name}-w-2`, `${name}-w-3`];
  const img = (tag: string) => `mk.test/img-${name}:${tag}`;
  const timings: string[] = [];
  let spec = '';
  const write = (w: number, images?: string[]) => writeFile(spec, clusterYaml({ name, bootstrap: 'none', driver: dockerDriver(nodeImage), nodes: [controlPlanes(1), workers(w)], ...(images ? { images } : {}) }));
  const cli = (...args: string[]): Promise<Run> => mk(args, t.env);
  const json = (...args: string[]): Promise<JsonRun> => mkJson(args, t.env);

  beforeAll(async () => {
    [nodeImage] = await Promise.all([ensureNodeImage(), buildCli()]);
    t = await testEnv();
    spec = join(t.dir, 'cluster.yaml');
    for (const tag of ['one', 'two', 'three']) await makeImage(t.dir, img(tag), `${name}-${tag}`);
    await write(2);
    const r = await cli('apply', '-f', spec);
    expect(r.code, r.output).toBe(0);
  }, 1_800_000); // a cold build of the node image takes about 7 minutes

  afterAll(async () => {
    console.log(`[images] timings\n  ${timings.join('\n  ')}`);
    await removeLabelled(name);
    await docker('rmi', img('one'), img('two'), img('three')).catch(() => '');
    await t?.cleanup();
  });

  it('mk image load: into every node in parallel; a second load is a no-op and says so; mk image ls lists it', async () => {
    const first = await json('image', 'load', img('one'), '--cluster', name);
    expect(first.code, first.output).toBe(0);
    expect(finished(first)).toEqual([`image.load:${cp} done`, `image.load:${w1} done`, `image.load:${w2} done`]);
    timings.push(`mk image load of a small image into 3 nodes: ${first.ms} ms`);
    for (const n of [cp, w1, w2]) expect(await nodeImages(n)).toEqual([img('one')]);
    const again = await cli('image', 'load', img('one'), '--cluster', name);
    expect(again.code, again.output).toBe(0);
    const id = (await docker('image', 'inspect', '-f', '{{.Id}}', img('one'))).slice(0, 19);
    for (const n of [cp, w1, w2]) expect(again.stdout).toContain(`= load image ${img('one')} on node ${n} (already done: node ${n} holds ${img('one')} (${id}))`);
    expect(again.stdout).toContain(`into 3 nodes of cluster ${name}: 0 loaded, 3 held it already`);
    timings.push(`the same load again (no-op): ${again.ms} ms`);
    const ls = await cli('image', 'ls', name);
    expect(ls.code, ls.output).toBe(0);
    for (const n of [cp, w1, w2]) expect(ls.stdout).toMatch(new RegExp(`^${n} +${img('one')} +${id} `, 'm'));
  });

  it('an archive (docker save) into the nodes named, and refuses what it cannot find', async () => {
    const archive = join(t.dir, 'two.tar');
    await docker('save', '-o', archive, img('two'));
    const r = await json('image', 'load', archive, '--cluster', name, '--nodes', w1);
    expect(r.code, r.output).toBe(0);
    expect(finished(r)).toEqual([`image.load:${w1} done`]);
    expect(await nodeImages(w1)).toEqual([img('one'), img('two')]);
    expect(await nodeImages(w2)).toEqual([img('one')]);
    const missing = await cli('image', 'load', `mk.test/none-${name}:x`, '--cluster', name);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`image mk.test/none-${name}:x is not in the Docker engine at`);
    expect(missing.stderr).toContain(`docker build -t mk.test/none-${name}:x DIR`);
    expect((await cli('image', 'load', img('one'), '--cluster', name, '--nodes', `${name}-w-9`)).stderr).toContain(`has no node ${name}-w-9`);
  });

  it('spec.images: plan shows each missing image per node, apply loads them, then in sync', async () => {
    await write(2, [img('one'), img('three')]);
    const plan = await cli('plan', '-f', spec);
    expect(plan.code, plan.output).toBe(2);
    for (const n of [cp, w1, w2]) expect(plan.stdout).toContain(`+ load image ${img('three')} on node ${n}  (missing)`);
    expect(plan.stdout).not.toContain(`load image ${img('one')}`);
    const apply = await json('apply', '-f', spec);
    expect(apply.code, apply.output).toBe(0);
    for (const n of [cp, w1, w2]) expect(await nodeImages(n)).toContain(img('three'));
    const inSync = await cli('apply', '-f', spec);
    expect(inSync.stdout).toContain(`No changes. Cluster "${name}" is in sync`);
    timings.push(`no-op apply of 3 nodes with 2 images listed: ${inSync.ms} ms (npm run bench compares it with the spec without images)`);
  });

  it('spec.images reaches a worker added later and a node recreated after docker rm -f', async () => {
    await write(3, [img('one'), img('three')]);
    const plan = await cli('plan', '-f', spec);
    expect(plan.stdout).toContain(`+ create node ${w3} (worker)  (missing)`);
    expect(plan.stdout).toContain(`+ load images ${img('one')}, ${img('three')} on node ${w3}  (new node)`);
    const grow = await cli('apply', '-f', spec);
    expect(grow.code, grow.output).toBe(0);
    expect(await nodeImages(w3)).toEqual([img('one'), img('three')]);

    await docker('rm', '-f', w1);
    const repair = await json('apply', '-f', spec);
    expect(repair.code, repair.output).toBe(0);
    expect(finished(repair)).toContain(`image.load:${w1} done`);
    expect(await nodeImages(w1)).toEqual([img('one'), img('three')]);
    timings.push(`drift repair (node recreated and its images loaded): ${repair.ms} ms`);
  });

  it('an image neither in the local engine nor pullable fails at plan time, naming it and how to get it', async () => {
    const none = `mk.test/none-${name}:v1`;
    await write(3, [img('one'), none]);
    const plan = await cli('plan', '-f', spec);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toContain(`image ${none} is not in the Docker engine at`);
    expect(plan.stderr).toMatch(/and no registry serves it \(.+\)\. Get it there first: docker build -t/);
    const apply = await json('apply', '-f', spec);
    expect(apply.code).toBe(1);
    expect(apply.events.filter((e) => e.type === 'step.started')).toEqual([]);
  });

  it('an image rebuilt under the same tag (another ID) is loaded again, and the plan says which nodes hold the old build', async () => {
    const old = (await docker('image', 'inspect', '-f', '{{.Id}}', img('one'))).slice(0, 19);
    await makeImage(t.dir, img('one'), `${name}-one-rebuilt`);
    const id = await docker('image', 'inspect', '-f', '{{.Id}}', img('one'));
    const r = await json('image', 'load', img('one'), '--cluster', name, '--nodes', cp);
    expect(finished(r)).toEqual([`image.load:${cp} done`]);
    expect((await docker('exec', cp, 'ctr', '-n', 'k8s.io', 'images', 'ls', '-q')).split('\n')).toContain(id);
    await write(3, [img('one'), img('three')]);
    const plan = await cli('plan', '-f', spec);
    expect(plan.stdout).toContain(`+ load image ${img('one')} on node ${w2}  (${img('one')} changed: ${old} → ${id.slice(0, 19)})`);
    expect(plan.stdout).not.toContain(`on node ${cp}`);
  });
});

describe.skipIf(skip)('images into an ssh host (containerd over the ssh connection)', () => {
  const hosts = new SshK8sHosts();
  const name = `imgssh${hosts.run}`;
  const ref = `mk.test/img-${name}:one`;
  let t: TestEnv;

  beforeAll(async () => {
    const image = await ensureSshHostImage();
    await buildCli();
    t = await testEnv();
    await hosts.start(image, ['h1']);
    await makeImage(t.dir, ref, name);
    const home = join(t.dir, 'home');
    await mkdir(home, { recursive: true });
    t.env = { ...t.env, HOME: home };
    delete t.env.SSH_AUTH_SOCK;
    const spec = join(t.dir, 'ssh.yaml');
    await writeFile(spec, clusterYaml({ name, bootstrap: 'none', driver: sshDriver({ identityFile: hosts.key, knownHostsFile: hosts.knownHosts }), nodes: [controlPlanes([hosts.hosts[0]!.ip])], images: [ref] }));
    const apply = await mkJson(['apply', '-f', spec], t.env);
    expect(apply.code, apply.output).toBe(0);
    expect(finished(apply)).toContain(`image.load:${name}-cp-1 done`);
  }, 1_800_000);

  afterAll(async () => {
    await hosts.cleanup();
    await docker('rmi', ref).catch(() => '');
    await t?.cleanup();
  });

  it('spec.images reached the host through sudo; mk image load of the same image is a no-op', async () => {
    const held = await hosts.exec(hosts.hosts[0]!, ['ctr', '-n', 'k8s.io', 'images', 'ls', '-q']);
    expect(held.split('\n')).toContain(ref);
    const again = await mk(['image', 'load', ref, '--cluster', name], t.env);
    expect(again.code, again.output).toBe(0);
    expect(again.stdout).toContain(`(already done: node ${name}-cp-1 holds ${ref}`);
  });
});

// Layering of src/ (ARCHITECTURE.md draws it): a folder imports only folders below it, never one
// above; so no cycles between folders, and nothing below reconcile and commands knows them.
// `npm run lint:layers` checks it (part of `npm test`).
const LAYERS = [
  ['base', '^src/(errors|redact|version|plan|log|net)\\.ts$'],
  ['kube', '^src/kube/'],
  ['manifests', '^src/manifests/'],
  ['catalog', '^src/catalog/'],
  ['spec', '^src/spec/'],
  ['state', '^src/state\\.ts$'],
  ['drivers', '^src/drivers/'],
  ['phase', '^src/phase/'],
  ['infrastructure', '^src/infrastructure/'],
  ['images', '^src/images/'],
  ['kubeadm', '^src/kubeadm/'],
  ['addons', '^src/addons/'],
  ['tunnel', '^src/tunnel/'],
  ['reconcile', '^src/reconcile/'],
  ['output', '^src/output/'],
  ['commands', '^src/commands/'],
  ['entry', '^src/(cli|main)\\.ts$'],
];

const upward = LAYERS.slice(0, -1).map(([name, path], i) => ({
  name: `${name}-imports-no-layer-above`,
  comment: `${name} sits below ${LAYERS.slice(i + 1).map(([n]) => n).join(', ')}: it may not import them`,
  severity: 'error',
  from: { path },
  to: { path: LAYERS.slice(i + 1).map(([, p]) => `(${p})`).join('|') },
}));

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'src-in-a-layer',
      comment: 'every file of src/ belongs to a layer above (add a new folder to LAYERS where it belongs)',
      severity: 'error',
      from: { path: '^src/', pathNot: LAYERS.map(([, p]) => `(${p})`).join('|') },
      to: {},
    },
    { name: 'no-circular', comment: 'modules never import each other in a circle', severity: 'error', from: { path: '^src/' }, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|node_modules)/' },
  },
};

import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const CHILD_PROCESS = { name: 'child_process', message: 'use node:child_process with execFile/spawn (argv), never a shell' };
const CLIENT_NODE = 'only src/kube talks to the Kubernetes API: use KubeClient from src/kube/index.js';
const DRIVER_NAME = 'no branch on the driver\'s name above src/drivers: ask capabilitiesOf() (src/drivers/capabilities.ts) or add a method to the driver port';
const CLIENT_NODE_IMPORT = { selector: "ImportExpression[source.value='@kubernetes/client-node']", message: CLIENT_NODE };
const DRIVER_NAME_READ = [
  { selector: "MemberExpression[property.name='name'][object.type='MemberExpression'][object.property.name='driver']", message: DRIVER_NAME },
  { selector: "MemberExpression[property.name='name'][object.type='Identifier'][object.name='driver']", message: DRIVER_NAME },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } } },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly', URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { paths: [CHILD_PROCESS] }],
    },
  },
  {
    // One Kubernetes client: only src/kube loads @kubernetes/client-node (types included).
    files: ['src/**/*.ts'],
    ignores: ['src/kube/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [CHILD_PROCESS, { name: '@kubernetes/client-node', message: CLIENT_NODE }] }],
      'no-restricted-syntax': ['error', CLIENT_NODE_IMPORT, ...DRIVER_NAME_READ],
    },
  },
  {
    // Drivers and the spec know the drivers by name; nothing above them does.
    files: ['src/drivers/**/*.ts', 'src/spec/**/*.ts'],
    rules: { 'no-restricted-syntax': ['error', CLIENT_NODE_IMPORT] },
  },
  {
    files: ['src/kube/**/*.ts'],
    rules: { 'no-restricted-syntax': ['error', ...DRIVER_NAME_READ] },
  },
);

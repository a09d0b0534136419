import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const CHILD_PROCESS = { name: 'child_process', message: 'use node:child_process with execFile/spawn (argv), never a shell' };
const CLIENT_NODE = 'only src/kube talks to the Kubernetes API: use KubeClient from src/kube/index.js';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
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
      'no-restricted-syntax': ['error', { selector: "ImportExpression[source.value='@kubernetes/client-node']", message: CLIENT_NODE }],
    },
  },
);

// Lint, and the fences of DESIGN.md: the domain and the workflows stay deterministic and free of I/O.
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const builtins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

const fence = {
  'no-restricted-imports': [
    'error',
    {
      paths: [
        ...builtins.map((name) => ({ name, message: 'Node built-ins are not allowed here (deterministic, sandboxed code).' })),
        { name: 'ssh2', message: 'I/O belongs in src/activities.' },
        { name: 'pg', message: 'I/O belongs in src/activities.' },
      ],
      patterns: [
        { group: ['**/activities', '**/activities/*', '**/activities/**'], allowTypeImports: true, message: 'Import activities as types only (`import type`).' },
        { group: ['**/config/load', '**/config/secrets', '**/dev/**', '**/client/**', '**/workers/**'], message: 'Not importable from deterministic code.' },
      ],
    },
  ],
  'no-restricted-globals': ['error', { name: 'process', message: 'No process in deterministic code.' }, { name: 'Buffer', message: 'No Buffer in deterministic code.' }],
  'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'Not deterministic.' }, { object: 'Date', property: 'now', message: 'Time is an argument (domain) or workflow time (workflows).' }],
};

export default tseslint.config(
  { ignores: ['node_modules/**', '.tools/**', '.steward/**', 'examples/**', 'dist/**', 'bench/results/**', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  { files: ['src/domain/**/*.ts'], rules: fence },
  { files: ['src/workflows/**/*.ts'], rules: { ...fence, 'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'Use the workflow’s deterministic random.' }] } },
);

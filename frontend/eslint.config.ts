import { defineConfigWithVueTs, vueTsConfigs } from '@vue/eslint-config-typescript'
import skipFormatting from '@vue/eslint-config-prettier/skip-formatting'
import pluginVue from 'eslint-plugin-vue'

export default defineConfigWithVueTs(
  { name: 'app/files-to-lint', files: ['**/*.{ts,mts,vue}'] },
  // schema.d.ts is generated (make frontend-types).
  { name: 'app/files-to-ignore', ignores: ['dist/**', 'coverage/**', 'node_modules/**', 'src/api/schema.d.ts'] },
  pluginVue.configs['flat/recommended'],
  vueTsConfigs.recommended,
  {
    name: 'app/rules',
    rules: {
      // Raw HTML would bypass escaping of log text and manifests: never render it.
      'vue/no-v-html': 'error',
      'vue/multi-word-component-names': 'error',
      'vue/block-lang': ['error', { script: { lang: 'ts' } }],
      'vue/component-api-style': ['error', ['script-setup']],
      'no-restricted-globals': [
        'error',
        { name: 'fetch', message: 'Only src/api/client.ts talks HTTP: use its request helpers.' },
      ],
    },
  },
  // Layout is Prettier's job (`npm run format`); ESLint checks the rest.
  skipFormatting,
  {
    name: 'app/the-http-client',
    files: ['src/api/client.ts', 'src/**/*.spec.ts', 'src/testing/**'],
    rules: { 'no-restricted-globals': 'off' },
  },
)

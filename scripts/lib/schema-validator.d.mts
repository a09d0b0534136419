// Types of scripts/lib/schema-validator.mjs for vitest.config.ts.
import type { Plugin as EsbuildPlugin } from 'esbuild';
import type { Plugin as VitePlugin } from 'vite';

export declare function validatorSource(): Promise<string>;
export declare function esbuildSchemaValidator(): EsbuildPlugin;
export declare function viteSchemaValidator(): VitePlugin;

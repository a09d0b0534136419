// Replaced at build time by scripts/build.mjs (esbuild define); 'dev' when run from source.
declare const MK_VERSION: string | undefined;
export const VERSION: string = typeof MK_VERSION === 'string' ? MK_VERSION : '0.0.0-dev';

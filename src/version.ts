// Replaced at build time by scripts/build.mjs (esbuild define); 'dev' / 'unknown' when run from source.
declare const MK_VERSION: string | undefined;
declare const MK_COMMIT: string | undefined;
export const VERSION: string = typeof MK_VERSION === 'string' ? MK_VERSION : '0.0.0-dev';
/** The git commit mk was built from; "unknown" when built outside mk's own git checkout (an npm tarball). */
export const COMMIT: string = typeof MK_COMMIT === 'string' ? MK_COMMIT : 'unknown';

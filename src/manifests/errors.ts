// The errors of applying object sets (addons, a CNI manifest), in one place, apart from the API
// client so that rendering and observing load without it.
import { MkError } from '../errors.js';
import { describeRef } from './labels.js';
import type { ObjectRef } from './types.js';

export class AddonError extends MkError {
  constructor(
    readonly addon: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`addon ${addon}: ${message}`, options);
  }
}

/** Another field manager owns fields mk would set (HTTP 409 without force), or an object exists that mk did not create. */
export class AddonConflictError extends AddonError {
  constructor(
    addon: string,
    readonly ref: ObjectRef,
    readonly detail: string,
  ) {
    super(addon, `${describeRef(ref)}: ${detail}; set force: true on the addon to take it over`);
  }
}

/** An object of an addon that is not ready, and why. */
export interface Unready {
  ref: ObjectRef;
  reason: string;
  /** Its first pod that is not ready, and why ("pod NAME: Pending (ErrImagePull: ...)"), for a workload. */
  pod?: string;
  /** The latest Warning event about the object, if any. */
  event?: string;
}

/** The addon's workloads, CRDs or APIServices were not ready in time. */
export class AddonNotReadyError extends MkError {
  constructor(
    readonly addon: string,
    readonly unready: Unready[],
    readonly timeoutMs: number,
  ) {
    super(
      `addon ${addon} not ready after ${Math.round(timeoutMs / 1000)}s: ` +
        unready.map((u) => `${describeRef(u.ref)}: ${u.reason}${u.pod ? `; ${u.pod}` : ''}${u.event ? `; last event: ${u.event}` : ''}`).join('; '),
    );
  }
}

/** User manifests that cannot be used (outside the spec's folder, a kustomization, a download that fails or does not match its sha256...). */
export class ManifestError extends MkError {}

/** A manifest path that leads outside the spec's folder (through `..`, a symlink or a symlinked folder). */
export class ManifestOutsideError extends ManifestError {}

// The addons engine's errors, apart from the API client so that rendering and observing load without it.
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

// The catalog's errors, in one place.
import { MkError } from '../errors.js';

/** An addon of the catalog cannot be rendered from what it was given (release files, options). */
export class CatalogError extends MkError {}

/** No LoadBalancer address pool can be carved from the cluster's network. */
export class PoolError extends CatalogError {}

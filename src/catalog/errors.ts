// The catalog's errors.
import { MkError } from '../errors.js';

/** No LoadBalancer address pool can be carved from the cluster's network. */
export class PoolError extends MkError {}

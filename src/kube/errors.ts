// The kube layer's errors. Callers branch on KubeApiError.status (404, 409, 429...), never on text.
import { MkError } from '../errors.js';

/** The API server answered with a status other than 2xx (or with a 2xx body that is not JSON). */
export class KubeApiError extends MkError {
  constructor(
    /** The HTTP status. */
    readonly status: number,
    readonly method: string,
    /** The request path (and query): never holds a secret. */
    readonly path: string,
    /** Status.reason of the answer (NotFound, Conflict, AlreadyExists...), when it says. */
    readonly reason: string | undefined,
    /** The API server's own message (Status.message), or "HTTP <status>". */
    message: string,
  ) {
    super(message);
  }

  /** From an answer's status and body (a metav1.Status when the API server wrote it). */
  static fromResponse(method: string, path: string, status: number, body: string): KubeApiError {
    let parsed: { message?: unknown; reason?: unknown } | undefined;
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      /* not JSON: a proxy's or load balancer's page */
    }
    const message = typeof parsed?.message === 'string' && parsed.message ? parsed.message : `HTTP ${status}`;
    return new KubeApiError(status, method, path, typeof parsed?.reason === 'string' ? parsed.reason : undefined, message);
  }
}

/** No answer: the connection failed, broke, or stayed idle past the request's timeout. `code` is Node's (ECONNREFUSED, ETIMEDOUT...). */
export class KubeConnectionError extends MkError {
  readonly code: string | undefined;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    const code = (options?.cause as { code?: unknown } | undefined)?.code;
    this.code = typeof code === 'string' ? code : undefined;
  }
}

/** A kubeconfig mk cannot take credentials from. The message names what is missing and, where known, the way out. */
export class KubeconfigError extends MkError {}

// The ownership marker on a host: the ssh equivalent of the Docker driver's labels. A host without
// mk's marker for the cluster is not one of its nodes. Pure.
import type { Role } from '../../spec/types.js';

export const MARKER_PATH = '/etc/mk/node.json';
export const MARKER_MODE = 0o600;

export interface NodeMarker {
  cluster: string;
  node: string;
  pool: string;
  ordinal: number;
  role: Role;
  configHash: string;
  createdBy: string;
  createdAt: string;
}

/** $1 = path; prints the marker or nothing (missing). */
export const READ_MARKER_SCRIPT = 'if [ -e "$1" ]; then cat -- "$1"; fi';

export function parseMarker(text: string): NodeMarker | undefined {
  if (text.trim() === '') return undefined;
  let o: Partial<NodeMarker>;
  try {
    o = JSON.parse(text) as Partial<NodeMarker>;
  } catch {
    return undefined;
  }
  if (
    typeof o.cluster !== 'string' ||
    typeof o.node !== 'string' ||
    typeof o.pool !== 'string' ||
    typeof o.ordinal !== 'number' ||
    (o.role !== 'control-plane' && o.role !== 'worker') ||
    typeof o.configHash !== 'string'
  ) {
    return undefined;
  }
  return {
    cluster: o.cluster,
    node: o.node,
    pool: o.pool,
    ordinal: o.ordinal,
    role: o.role,
    configHash: o.configHash,
    createdBy: typeof o.createdBy === 'string' ? o.createdBy : '',
    createdAt: typeof o.createdAt === 'string' ? o.createdAt : '',
  };
}

export function serializeMarker(m: NodeMarker): string {
  return JSON.stringify(m, null, 2) + '\n';
}

// Pods as mk reads them (what is not ready, and why): the fields it looks at, and the reason a pod
// is not ready now. Pure.

export interface Pod {
  metadata: { name: string; namespace: string };
  spec?: { nodeName?: string };
  status?: {
    phase?: string;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
    containerStatuses?: Array<{ name: string; ready?: boolean; state?: Record<string, { reason?: string; message?: string }> }>;
  };
}

/** Why a pod is not ready now: a container's waiting or terminated reason, else why it is not scheduled; '' when neither says. */
export function podReason(p: Pod): string {
  const container = p.status?.containerStatuses?.map((c) => c.state?.waiting ?? c.state?.terminated).find((s) => s?.reason);
  if (container?.reason) return ` (${container.reason}${container.message ? `: ${container.message}` : ''})`;
  const unscheduled = p.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  return unscheduled ? ` (${unscheduled.reason ?? 'Unschedulable'}${unscheduled.message ? `: ${unscheduled.message}` : ''})` : '';
}

/** Whether the pod is ready (or done: a Job's pod that succeeded). */
export const podReady = (p: Pod): boolean => p.status?.phase === 'Succeeded' || p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

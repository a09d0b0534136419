// Terraform-style rendering of a Plan. Pure: the same Plan object `mk apply` executes.
import type { Action, NewNodes, Plan, PlannedStep } from '../plan.js';

const SYMBOL: Record<Action, string> = { create: '+', remove: '-', change: '~', replace: '-/+', start: '>', stop: '<' };

export function stepLine(s: PlannedStep): string {
  return `${SYMBOL[s.action].padStart(3)} ${s.description}${s.reason ? `  (${s.reason})` : ''}`;
}

export function countActions(plan: Plan): Record<Action, number> {
  const byAction: Record<Action, number> = { create: 0, remove: 0, change: 0, replace: 0, start: 0, stop: 0 };
  for (const s of plan.steps) byAction[s.action]++;
  return byAction;
}

/** "Kubernetes v1.36.3, node image kindest/node:v1.36.3". */
function newNodesText(n: NewNodes): string {
  return [n.kubernetesVersion && `Kubernetes ${n.kubernetesVersion}`, n.image && `node image ${n.image}`].filter(Boolean).join(', ');
}

export function formatPlan(plan: Plan): string {
  const where = plan.file ? ` (${plan.file})` : '';
  const lines: string[] = [];
  for (const w of plan.warnings) lines.push(`warning: ${w}`);
  for (const p of plan.problems ?? []) lines.push(`problem: ${p}`);
  if (plan.steps.length === 0) {
    lines.push(
      plan.problems?.length
        ? `No changes planned for cluster "${plan.cluster}"${where}, but it is not healthy (the problems above are not for mk to repair).`
        : plan.unchecked?.length
          ? `No changes planned for cluster "${plan.cluster}"${where}, but its ${plan.unchecked.join(' and ')} could not be checked: not known to be in sync.`
          : `No changes. Cluster "${plan.cluster}" is in sync${where}.`,
    );
    return lines.join('\n');
  }
  lines.push(`Plan for cluster "${plan.cluster}"${where}:`);
  const setup = plan.newNodes && newNodesText(plan.newNodes);
  if (setup) lines.push(`  new nodes: ${setup}`);
  for (const s of plan.steps) lines.push(stepLine(s));
  const byAction = countActions(plan);
  const parts = [
    `${byAction.create} to create`,
    `${byAction.replace} to replace`,
    `${byAction.start} to start`,
    `${byAction.change} to change`,
    `${byAction.remove} to remove`,
    // Only mk stop plans stops: other plans keep their summary as it was.
    ...(byAction.stop > 0 ? [`${byAction.stop} to stop`] : []),
  ];
  lines.push(`Plan: ${parts.join(', ')}.`);
  return lines.join('\n');
}

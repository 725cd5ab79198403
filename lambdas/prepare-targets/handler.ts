/**
 * PrepareTargets: the first step of a request's workflow. Creates the request's rollout record, then
 * expands its target page by page: named instances are one page; a tag is read from
 * DescribeInstanceInformation (50 per page) for as long as the function's budget allows. Every page is
 * written (queued beacon rows with their position, the page item) and the checkpoint moved with a
 * conditional write, so a retried or continued step goes on from the last page and never writes a beacon
 * twice. The state machine loops until `expanded`.
 */
import type { Context } from 'aws-lambda';
import { type Clock, type BeaconCommands, type Log, type RequestExecutionInput, type RequestStore, type RequestWorkflowStarter, type RolloutStore, ThrottledError, silentLog } from '../core/ports.js';
import { parseRequest } from '../core/request.js';
import { planRollout, rolloutSpecFor } from '../core/rollout.js';
import { type RequestTiming, workBudgetMs } from '../core/timing.js';
import { WorkBudget, continueAsNew, initialRollout } from '../rollout/steps.js';
import type { LoopState } from '../rollout/state.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import * as awsSfn from '../aws/clients/sfn.js';
import * as awsSsm from '../aws/clients/ssm.js';
import { requestTiming } from '../aws/clients/timing.js';
import { lambdaEntry, log } from '../aws/runtime.js';

export interface PrepareTargetsDeps {
  rollouts: RolloutStore;
  store: RequestStore;
  commands: BeaconCommands;
  requests: RequestWorkflowStarter;
  clock: Clock;
  timing: RequestTiming;
  log?: Log;
}

export interface PrepareTargetsEvent extends RequestExecutionInput {
  execution: { name: string };
  loop: LoopState;
}

/** The remaining time of the Lambda (the Context subset used here). */
export interface InvocationTime {
  getRemainingTimeInMillis(): number;
}

export function createPrepareTargetsHandler(deps: PrepareTargetsDeps) {
  const logger = deps.log ?? silentLog;
  return async function prepareTargets(event: PrepareTargetsEvent, context?: InvocationTime): Promise<LoopState> {
    const budget = new WorkBudget(Date.now() + workBudgetMs(context?.getRemainingTimeInMillis() ?? deps.timing.rolloutFunctionTimeoutSeconds * 1000));
    const request = parseRequest(event.request);
    const iteration = event.loop.iteration + 1;
    const at = () => deps.clock.now().toISOString();
    let found = await deps.rollouts.getRollout(event.requestId);
    if (!found) {
      // Who asked, kept with the rollout so the request's messages and summary name it: the execution's input,
      // else the request record (the intake recorded the caller SQS vouched for; the state machine passes explicit fields).
      const caller = event.caller ?? (await deps.store.getRequestStatus(event.requestId))?.request.caller ?? null;
      await deps.rollouts.createRollout(initialRollout({ ...event, ...(caller ? { caller } : {}) }, rolloutSpecFor(request), at()));
      found = (await deps.rollouts.getRollout(event.requestId))!;
    }
    let rollout = found;
    const answer = (status: LoopState['status'], waitSeconds = 0): LoopState => ({ status, iteration, waitSeconds, finished: rollout.finished });
    if (rollout.outcome || rollout.expansion.done) return answer('expanded');

    while (!rollout.expansion.done) {
      if (!budget.fits()) {
        return (await continueAsNew(deps, event, rollout, iteration)) ?? answer('expanding');
      }
      const current = rollout;
      const throttled = await budget.measure(async () => {
      const index = current.expansion.pages;
      let page: { instanceIds: string[]; nextToken: string | null };
      if (request.target.kind === 'instances') {
        page = { instanceIds: request.target.instanceIds, nextToken: null };
      } else {
        try {
          const found = await deps.commands.listManagedInstancesPage({ key: request.target.key, value: request.target.value }, current.expansion.nextToken, deps.timing.targetPageSize);
          page = { instanceIds: found.instances.map((instance) => instance.instanceId), nextToken: found.nextToken };
        } catch (error) {
          // Throttled: the loop waits a little and goes on from the checkpoint.
          if (error instanceof ThrottledError) return true;
          throw error;
        }
      }
      await deps.rollouts.recordTargetPage(event.requestId, { index, ...page, pageSize: deps.timing.targetPageSize }, at());
      rollout = (await deps.rollouts.getRollout(event.requestId))!;
      return false;
      });
      if (throttled) return (await continueAsNew(deps, event, rollout, iteration)) ?? answer('expanding', deps.timing.firstLoopWaitSeconds);
    }

    const plan = planRollout(rollout.spec, rollout.expansion.total);
    await deps.rollouts.patchRollout(event.requestId, { phase: 'running', canary: plan.canary, updatedAt: at() }, { phaseIn: ['expanding'] });
    await deps.store.appendAudit({ requestId: event.requestId, at: at(), event: 'request.expanded', detail: { beacons: plan.total, pages: rollout.expansion.pages, canary: plan.canary, waves: plan.waves.length } });
    logger.info('target expanded', { requestId: event.requestId, beacons: plan.total, pages: rollout.expansion.pages });
    return answer('expanded');
  };
}

export const handler = lambdaEntry(() => {
  const run = createPrepareTargetsHandler({
    rollouts: awsDynamo.rolloutStore(),
    store: awsDynamo.requestStore(),
    commands: awsSsm.beaconCommands(),
    requests: awsSfn.requestStarter(),
    clock: awsSdk.clock,
    timing: requestTiming(),
    log,
  });
  return (event: PrepareTargetsEvent, context: Context) => run(event, context);
});

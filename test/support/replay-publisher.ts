/**
 * The replay's publisher is the packaged one: the publisher function of a synthesized stack (its
 * asset from the cloud assembly, its `Handler` `__entrypoint__.handler` from the template, run by
 * aws-cdk-lib's entrypoint in a Node.js process, see packaged.ts), with the real AWS SDK against
 * moto through the fault proxy (aws-faults.ts). This is the one adapter between cfn-replay.ts's
 * `RunPublication` and the code under test.
 *
 * Each request runs in a fresh process (packaged.ts `invoke`, about 0.3 s): a cold sandbox every
 * time. Timers run `timeScale` times faster, so the handler's backoffs and its Route 53 polling
 * (seconds in Lambda) take milliseconds here, and its deadline comes as fast.
 */
import type { FaultProxy } from './aws-faults';
import { CfnResponse, CustomResourceEvent, RunOptions, RunPublication } from './cfn-replay';
import { PackagedFunction, cfnEvent, invoke } from './packaged';

export interface PackagedPublisherOptions {
  /** The publisher function (`MtaStsPolicyPublisherCustomResourceProviderHandler...`) of a synthesized stack. */
  readonly fn: PackagedFunction;
  /** The fault proxy in front of moto: the handler's `AWS_ENDPOINT_URL`. */
  readonly proxy: FaultProxy;
  /** @default 200 */
  readonly timeScale?: number;
}

/** What the packaged publisher did, for failure messages. */
export interface PublisherLog {
  /** Requests run (each Lambda run counts, a retry included). */
  runs: number;
  /** Wall-clock time spent in runs. */
  ms: number;
  /** The last run's function log (stdout, then stderr). */
  lastLog: string;
}

/** A `RunPublication` running the packaged handler. */
export function packagedPublisher(options: PackagedPublisherOptions): RunPublication & { readonly log: PublisherLog } {
  const { fn, proxy } = options;
  const log: PublisherLog = { runs: 0, ms: 0, lastLog: '' };
  const run = async (event: CustomResourceEvent, runOptions: RunOptions): Promise<CfnResponse | undefined> => {
    if (!event.ServiceToken.includes(fn.logicalId)) {
      throw new Error(`${event.LogicalResourceId} is served by ${event.ServiceToken}, not by the packaged ${fn.logicalId}`);
    }
    const { ServiceToken: _token, ...properties } = event.ResourceProperties;
    const { ServiceToken: _oldToken, ...oldProperties } = event.OldResourceProperties ?? {};
    const request = cfnEvent(event.RequestType, {
      logicalId: event.LogicalResourceId,
      resourceType: event.ResourceType,
      serviceToken: fn.functionArn,
      properties,
      oldProperties: event.OldResourceProperties ? oldProperties : undefined,
      physicalId: event.PhysicalResourceId,
      requestId: event.RequestId,
      region: fn.region,
      account: fn.account,
    });
    proxy.clear();
    runOptions.aws.forEach(fault => proxy.inject(fault));
    try {
      log.runs += 1;
      const started = Date.now();
      const result = await invoke(fn, request, {
        endpoint: proxy.endpoint,
        loseAnswer: runOptions.answerLost,
        remainingMs: runOptions.remainingMs,
        timeScale: options.timeScale ?? 200,
      });
      log.ms += Date.now() - started;
      log.lastLog = `${result.stdout}\n${result.stderr}`.trim();
      if (runOptions.answerLost || result.response === undefined) {
        return undefined;
      }
      return result.response as CfnResponse;
    } finally {
      proxy.clear();
    }
  };
  return Object.assign(run, { log });
}

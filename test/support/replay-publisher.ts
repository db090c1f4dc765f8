/**
 * The replay's publisher is the packaged one: the publisher function of a synthesized stack (its
 * asset from the cloud assembly, its `Handler` `__entrypoint__.handler` from the template, run by
 * aws-cdk-lib's entrypoint in a Node.js process, see packaged.ts), with the real AWS SDK against
 * moto through the fault proxy (aws-faults.ts). This is the one adapter between cfn-replay.ts's
 * `RunPublication` and the code under test.
 *
 * Requests run one after another in one warm sandbox (packaged.ts `startWarmHost`: one process,
 * started at the first request, ended by `stop()`), as Lambda serves them from a reused execution
 * environment: module state (SDK clients, their connections) is kept between requests, and a
 * request that times out or crashes resets the sandbox, as in Lambda. `cold: true` runs each
 * request in a fresh process instead (packaged.ts `invoke`, about 0.3 s more each). Timers run
 * `timeScale` times faster, so the handler's backoffs and its Route 53 polling (seconds in
 * Lambda) take milliseconds here, and its deadline comes as fast.
 */
import type { FaultProxy } from './aws-faults';
import { CfnResponse, CustomResourceEvent, RunOptions, RunPublication } from './cfn-replay';
import { Invocation, PackagedFunction, WarmHost, cfnEvent, invoke, startWarmHost } from './packaged';

export interface PackagedPublisherOptions {
  /** The publisher function (`MtaStsPolicyPublisherCustomResourceProviderHandler...`) of a synthesized stack. */
  readonly fn: PackagedFunction;
  /** The fault proxy in front of moto: the handler's `AWS_ENDPOINT_URL`. */
  readonly proxy: FaultProxy;
  /** @default 200 */
  readonly timeScale?: number;
  /** Each request in a fresh process (a cold sandbox) instead of the warm one. @default false */
  readonly cold?: boolean;
}

/** What the packaged publisher did, for failure messages. */
export interface PublisherLog {
  /** Requests run (each Lambda run counts, a retry included). */
  runs: number;
  /** Wall-clock time spent in runs. */
  ms: number;
  /** The last run's function log (stdout, then stderr). */
  lastLog: string;
  /** Processes started: one per cold run; with the warm sandbox, one plus one per reset (timeout, crash). */
  sandboxes: number;
}

/** A `RunPublication` running the packaged handler. */
export interface PackagedPublisher extends RunPublication {
  readonly log: PublisherLog;
  /** Ends the warm sandbox's process (call it in afterAll). A later request starts a new one. */
  stop(): Promise<void>;
}

/** A `RunPublication` running the packaged handler. */
export function packagedPublisher(options: PackagedPublisherOptions): PackagedPublisher {
  const { fn, proxy } = options;
  const timeScale = options.timeScale ?? 200;
  const log: PublisherLog = { runs: 0, ms: 0, lastLog: '', sandboxes: 0 };
  let warm: Promise<WarmHost> | undefined;
  let stopped = 0;
  const runHandler = async (request: unknown, runOptions: RunOptions): Promise<Invocation> => {
    const perRun = { loseAnswer: runOptions.answerLost, remainingMs: runOptions.remainingMs };
    if (options.cold) {
      log.sandboxes += 1;
      return invoke(fn, request, { endpoint: proxy.endpoint, timeScale, ...perRun });
    }
    warm ??= startWarmHost(fn, { endpoint: proxy.endpoint, timeScale });
    const host = await warm;
    const result = await host.invoke(request, perRun);
    log.sandboxes = stopped + host.sandboxes;
    return result;
  };
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
      const result = await runHandler(request, runOptions);
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
  const stop = async (): Promise<void> => {
    const host = warm;
    warm = undefined;
    if (host) {
      const started = await host.catch(() => undefined);
      stopped += started?.sandboxes ?? 0;
      await started?.stop();
    }
    if (process.env.REPLAY_STATS) {
      process.stderr.write(`packaged publisher: ${log.runs} handler runs (${log.ms} ms) in ${log.sandboxes} sandboxes\n`);
    }
  };
  return Object.assign(run, { log, stop });
}

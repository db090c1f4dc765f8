'use strict';
/**
 * Runs a Lambda function's code the way the Lambda Node.js runtime does, in this process (a
 * fresh sandbox): started by test/support/packaged.ts with `child_process.fork`, it receives
 * one job over IPC, loads the handler from the task root, runs the job's invocations and sends
 * each result back over IPC, then exits.
 *
 * Server mode (`job.serve`, packaged.ts `startWarmHost`): a warm sandbox. After loading the
 * handler it sends `ready`, then runs each `invoke` message it receives, one at a time, and
 * answers each with a `result`; module state stays between them, as in a Lambda execution
 * environment reused for the next request. Output written between two invocations (stray
 * callbacks) goes to the next one's log, as in Lambda, where it shows when the sandbox thaws.
 * As Lambda resets the environment after a failed init, a timeout or a crash, the sandbox ends
 * then (the result says `sandboxEnds`) and the next request gets a new one. The process ends
 * when its IPC channel closes: when the parent disconnects, or dies however it dies.
 *
 * Like the runtime: the `Handler` string `path/module.export.nested` is resolved against the
 * task root (.js, .mjs, .cjs; ESM when `type: module`); init errors are `Runtime.ImportModuleError`,
 * `Runtime.HandlerNotFound` ...; async and callback handlers; the result is JSON; `console.*`
 * writes `<time>\t<request id>\t<LEVEL>\t<message>` lines (newlines as \r) to stdout while
 * `process.stdout.write` is written as is (EMF lines); an invocation that outlives its
 * deadline fails with `Sandbox.Timedout` and the sandbox is ended; an unhandled rejection
 * fails it with `Runtime.UnhandledPromiseRejection`.
 *
 * Test additions:
 * - responses to CloudFormation are captured, not sent: aws-cdk-lib's entrypoint
 *   (`__entrypoint__.js`, which exports `external`) gets its own `external.sendHttpRequest`,
 *   and `https.request` to the response URL host is answered 200 here; with the invocation's
 *   `loseAnswer` both fail every time (the entrypoint's retry sleeps are skipped);
 * - `timeScale` k: every setTimeout/setInterval delay is divided by k and the context's
 *   `getRemainingTimeInMillis()` counts down k times faster (Date is not changed);
 * - only loopback connections: any other connection fails with an error naming the host;
 * - the AWS SDK's NodeVersionSupportWarning is dropped (this host may run an older Node.js
 *   than the function's runtime; nothing else about that is emulated).
 */
const { AsyncLocalStorage } = require('node:async_hooks');
const fs = require('node:fs');
const https = require('node:https');
const Module = require('node:module');
const net = require('node:net');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { PassThrough } = require('node:stream');
const timers = require('node:timers');
const timersPromises = require('node:timers/promises');
const url = require('node:url');
const util = require('node:util');

const MAX_CAPTURE = 4 * 1024 * 1024;
const real = {
  setTimeout: global.setTimeout,
  setInterval: global.setInterval,
  promisesSetTimeout: timersPromises.setTimeout,
  stdoutWrite: process.stdout.write.bind(process.stdout),
  stderrWrite: process.stderr.write.bind(process.stderr),
  httpsRequest: https.request,
  connect: net.Socket.prototype.connect,
  emitWarning: process.emitWarning,
  exit: process.exit.bind(process),
};

const als = new AsyncLocalStorage();
/** Output written outside any invocation (init, stray callbacks). */
const sandbox = { stdout: '', stderr: '' };
let job;
/** One invocation at a time (a one-invocation job, or server mode): what is written while it runs is its log. */
let single;
/** Invocations not answered yet. */
const active = new Set();
let entrypointLoaded = false;
/** The hosts of the response URLs of the events (captured, not reached). */
const responseHosts = new Set();
/** Whether a response outside any invocation is lost: as for the invocation that ran last. */
let lastLoseAnswer = false;
/** Set when the sandbox is ending (timeout, crash, failed init): the result says so. */
let ending = false;
/** The log stream of this sandbox (Lambda names one per execution environment). */
let logStreamName;

// The parent is gone (it disconnected, or died however it died): so is the sandbox.
process.on('disconnect', () => real.exit(0));

/** Server mode: invocations wait for the handler to be loaded. */
let loaded;
process.on('message', (message) => {
  if (!job) {
    job = message;
    loaded = main().catch((error) => {
      real.stderrWrite(`lambda-host: ${error && error.stack || error}\n`);
      real.exit(70);
    });
  } else if (message && message.type === 'invoke') {
    loaded.then((init) => invoke(message.spec, message.index, init.handler, init.initError, init.scale));
  }
});

async function main() {
  const scale = job.timeScale > 0 ? job.timeScale : 1;
  captureOutput();
  patchConsole();
  patchTimers(scale);
  guardNetwork();
  captureResponseUrl();
  filterWarnings();
  process.on('unhandledRejection', (reason) => crash('Runtime.UnhandledPromiseRejection', reason));
  process.on('uncaughtException', (error) => crash(undefined, error));

  single = Boolean(job.serve) || job.invocations.length === 1;
  (job.invocations || []).forEach((spec) => (spec.responseHosts || []).forEach((host) => responseHosts.add(host)));
  let handler;
  let initError;
  try {
    handler = await loadHandler(job.taskRoot, job.handler);
  } catch (error) {
    initError = error;
  }
  if (job.serve) {
    process.send({ type: 'ready' });
    return { handler, initError, scale };
  }
  await Promise.all(job.invocations.map((spec, index) => invoke(spec, index, handler, initError, scale)));
  finish();
  return { handler, initError, scale };
}

function invoke(spec, index, handler, initError, scale) {
  // Output written outside any invocation (init; in server mode, stray callbacks since the last
  // invocation) is this one's when it runs alone, as it is in Lambda's log stream.
  const invocation = {
    index,
    requestId: spec.requestId,
    loseAnswer: Boolean(spec.loseAnswer),
    stdout: single ? sandbox.stdout : '',
    stderr: single ? sandbox.stderr : '',
    responses: [],
    done: false,
  };
  if (job.serve) {
    sandbox.stdout = '';
    sandbox.stderr = '';
  }
  (spec.responseHosts || []).forEach((host) => responseHosts.add(host));
  lastLoseAnswer = invocation.loseAnswer;
  logStreamName = logStreamName
    || `${new Date().toISOString().slice(0, 10).replace(/-/g, '/')}/[$LATEST]${spec.requestId.replace(/-/g, '')}`;
  const started = performance.now();
  const remainingAtStart = spec.remainingMs;
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: job.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: job.functionArn,
    memoryLimitInMB: String(job.memoryMb),
    awsRequestId: spec.requestId,
    logGroupName: `/aws/lambda/${job.functionName}`,
    logStreamName,
    getRemainingTimeInMillis: () => Math.max(0, Math.round(remainingAtStart - (performance.now() - started) * scale)),
    done: undefined, succeed: undefined, fail: undefined,
  };
  return new Promise((resolve) => {
    const settle = (outcome) => {
      if (invocation.done) {
        return;
      }
      if (outcome.error) {
        als.run(invocation, () => console.error('Invoke Error \t' + JSON.stringify(outcome.error)));
      }
      invocation.done = true;
      active.delete(invocation);
      clearTimeout(deadline);
      process.send({
        type: 'result',
        index,
        sandboxEnds: ending,
        ...outcome,
        stdout: invocation.stdout,
        stderr: invocation.stderr,
        responses: invocation.responses,
        durationMs: Math.round(performance.now() - started),
      }, () => resolve());
    };
    invocation.settle = settle;
    active.add(invocation);
    const deadline = real.setTimeout(() => {
      const seconds = (job.timeoutSeconds).toFixed(2);
      ending ||= single;
      settle({ error: { errorType: 'Sandbox.Timedout', errorMessage: `${new Date().toISOString()} ${spec.requestId} Task timed out after ${seconds} seconds` } });
      if (single) {
        // The sandbox is ended: nothing the function left running goes on.
        setImmediate(finish);
      }
    }, remainingAtStart / scale);

    if (initError) {
      if (job.serve) {
        // Lambda resets an environment whose init failed: the next request initializes again.
        ending = true;
        settle({ error: lambdaError(initError) });
        setImmediate(finish);
      } else {
        settle({ error: lambdaError(initError) });
      }
      return;
    }
    als.run(invocation, () => {
      let promise;
      try {
        promise = handler.length >= 3
          ? new Promise((ok, fail) => {
            const returned = handler(spec.event, context, (error, value) => (error ? fail(error) : ok(value)));
            if (returned && typeof returned.then === 'function') {
              returned.then(ok, fail);
            }
          })
          : Promise.resolve(handler(spec.event, context));
      } catch (error) {
        promise = Promise.reject(error);
      }
      promise.then(
        (value) => settle({ result: value === undefined ? null : JSON.parse(JSON.stringify(value)) }),
        (error) => settle({ error: lambdaError(error) }),
      );
    });
  });
}

let finished = false;
function finish() {
  if (finished) {
    return;
  }
  finished = true;
  process.send({ type: 'done', stdout: sandbox.stdout, stderr: sandbox.stderr }, () => {
    real.exit(0);
  });
}

function crash(errorType, reason) {
  const error = lambdaError(reason);
  if (errorType) {
    error.errorType = errorType;
  }
  // The runtime fails the invocation and ends the sandbox; in a shared sandbox, the invocation
  // whose code crashed fails (all of them when it cannot be told).
  const current = als.getStore();
  ending ||= single || !current;
  const failed = single || !current || current.done ? [...active] : [current];
  for (const invocation of failed) {
    invocation.settle({ error });
  }
  if (single || !current) {
    setImmediate(finish);
  }
}

function lambdaError(error) {
  if (error instanceof Error || (error && typeof error === 'object' && 'message' in error)) {
    return {
      errorType: error.errorType || error.name || 'Error',
      errorMessage: String(error.message),
      trace: String(error.stack || '').split('\n'),
    };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

// ---------------------------------------------------------------------------------------------
// Handler resolution, as the runtime's UserFunction.js does it.

async function loadHandler(taskRoot, handlerString) {
  const base = path.basename(handlerString);
  const moduleRoot = handlerString.slice(0, handlerString.length - base.length);
  const match = /^([^.]*)\.(.*)$/.exec(base);
  if (!match) {
    throw namedError('Runtime.MalformedHandlerName', `Bad handler ${handlerString}`);
  }
  const [, moduleName, exportPath] = match;
  const lambdaStylePath = path.resolve(taskRoot, moduleRoot, moduleName);
  let loaded;
  try {
    loaded = await loadModule(lambdaStylePath, moduleName, path.resolve(taskRoot, moduleRoot));
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw namedError('Runtime.UserCodeSyntaxError', `${error.name}: ${error.message}`, error.stack);
    }
    if (error && error.code === 'MODULE_NOT_FOUND' && String(error.message).includes(`'${moduleName}'`)) {
      throw namedError('Runtime.ImportModuleError', `Error: Cannot find module '${moduleName}'`, error.stack);
    }
    if (error && error.code === 'MODULE_NOT_FOUND') {
      throw namedError('Runtime.ImportModuleError', `Error: ${error.message.split('\n')[0]}`, error.stack);
    }
    throw error;
  }
  if (loaded && loaded.external && typeof loaded.external.sendHttpRequest === 'function') {
    // aws-cdk-lib's custom resource provider entrypoint.
    entrypointLoaded = true;
    loaded.external.sendHttpRequest = async (options, body) => {
      respond(`https://${options.hostname}${options.path}`, options.method, body);
    };
  }
  const handler = exportPath.split('.').reduce((object, key) => (object == null ? undefined : object[key]), loaded);
  if (handler === undefined) {
    throw namedError('Runtime.HandlerNotFound', `${handlerString} is undefined or not exported`);
  }
  if (typeof handler !== 'function') {
    throw namedError('Runtime.HandlerNotFound', `${handlerString} is not a function`);
  }
  return handler;
}

async function loadModule(lambdaStylePath, moduleName, moduleRoot) {
  for (const extension of ['.js', '.mjs', '.cjs']) {
    const file = lambdaStylePath + extension;
    if (fs.existsSync(file)) {
      if (extension === '.mjs' || (extension === '.js' && packageType(path.dirname(file)) === 'module')) {
        return import(url.pathToFileURL(file).href);
      }
      return require(file);
    }
  }
  // Node-style resolution from the task root (a package name, a directory with index.js).
  return require(require.resolve(moduleName, { paths: [moduleRoot] }));
}

function packageType(dir) {
  for (let current = dir; ; current = path.dirname(current)) {
    const file = path.join(current, 'package.json');
    if (fs.existsSync(file)) {
      try {
        return JSON.parse(fs.readFileSync(file, 'utf8')).type;
      } catch {
        return undefined;
      }
    }
    if (path.dirname(current) === current) {
      return undefined;
    }
  }
}

function namedError(name, message, stack) {
  const error = new Error(message);
  error.name = name;
  error.errorType = name;
  if (stack) {
    error.stack = `${name}: ${message}\n${String(stack).split('\n').slice(1).join('\n')}`;
  }
  return error;
}

// ---------------------------------------------------------------------------------------------
// Logs.

function captureOutput() {
  const writer = (name) => function write(chunk, encoding, callback) {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    let invocation = als.getStore();
    if (!invocation && single) {
      // One invocation per sandbox: whatever is written while it runs is its log.
      invocation = [...active][0];
    }
    const target = invocation && !invocation.done ? invocation : sandbox;
    if (target[name].length < MAX_CAPTURE) {
      target[name] += text.length + target[name].length > MAX_CAPTURE
        ? `${text.slice(0, MAX_CAPTURE - target[name].length)}\n[lambda-host: output truncated]\n` : text;
    }
    const done = typeof encoding === 'function' ? encoding : callback;
    if (typeof done === 'function') {
      process.nextTick(done);
    }
    return true;
  };
  process.stdout.write = writer('stdout');
  process.stderr.write = writer('stderr');
}

function patchConsole() {
  const levels = { log: 'INFO', info: 'INFO', debug: 'DEBUG', warn: 'WARN', error: 'ERROR', trace: 'TRACE' };
  for (const [method, level] of Object.entries(levels)) {
    console[method] = (...args) => {
      const invocation = als.getStore();
      const message = util.format(...args).replace(/\n/g, '\r');
      process.stdout.write(`${new Date().toISOString()}\t${invocation ? invocation.requestId : 'undefined'}\t${level}\t${message}\n`);
    };
  }
}

function filterWarnings() {
  process.emitWarning = function emitWarning(warning, ...rest) {
    const text = typeof warning === 'string' ? warning : warning && warning.message;
    if (typeof text === 'string' && text.startsWith('NodeVersionSupportWarning')) {
      return;
    }
    return real.emitWarning.call(process, warning, ...rest);
  };
}

// ---------------------------------------------------------------------------------------------
// Time.

function patchTimers(scale) {
  const delay = (ms) => {
    if (entrypointLoaded && calledFromEntrypoint()) {
      return 0;
    }
    const value = Number(ms);
    return Number.isFinite(value) && value > 0 ? value / scale : 0;
  };
  function setTimeoutScaled(callback, ms, ...args) {
    return real.setTimeout(callback, delay(ms), ...args);
  }
  setTimeoutScaled[util.promisify.custom] = (ms, value, options) => real.promisesSetTimeout(delay(ms), value, options);
  function setIntervalScaled(callback, ms, ...args) {
    return real.setInterval(callback, delay(ms), ...args);
  }
  global.setTimeout = setTimeoutScaled;
  global.setInterval = setIntervalScaled;
  timers.setTimeout = setTimeoutScaled;
  timers.setInterval = setIntervalScaled;
  timersPromises.setTimeout = (ms, value, options) => real.promisesSetTimeout(delay(ms), value, options);
  Module.syncBuiltinESMExports();
}

/** Whether the direct caller of setTimeout is aws-cdk-lib's entrypoint (its response retry sleep). */
function calledFromEntrypoint() {
  const frames = new Error().stack.split('\n').slice(1);
  const caller = frames.find((frame) => !frame.includes(__filename));
  return caller !== undefined && caller.includes('__entrypoint__.js');
}

// ---------------------------------------------------------------------------------------------
// Network: responses to CloudFormation are captured; nothing but loopback is reachable.

function respond(target, method, body) {
  const invocation = als.getStore();
  let parsed;
  try {
    parsed = JSON.parse(String(body));
  } catch {
    parsed = String(body);
  }
  const owner = invocation || (single ? [...active][0] : undefined);
  const lost = owner ? owner.loseAnswer : lastLoseAnswer;
  if (owner && !owner.done) {
    owner.responses.push({ url: target, method: method || 'PUT', body: parsed, delivered: !lost });
  }
  if (lost) {
    const host = new URL(target).hostname;
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', hostname: host });
  }
}

function captureResponseUrl() {
  https.request = function request(...args) {
    let target;
    try {
      target = requestTarget(args);
    } catch {
      target = undefined;
    }
    if (!target || !responseHosts.has(target.hostname)) {
      return real.httpsRequest.apply(this, args);
    }
    const callback = args.find((arg) => typeof arg === 'function');
    const request = new PassThrough();
    const chunks = [];
    request.on('data', (chunk) => chunks.push(Buffer.from(chunk)));
    request.setTimeout = () => request;
    request.setHeader = () => undefined;
    request.getHeader = () => undefined;
    request.removeHeader = () => undefined;
    request.flushHeaders = () => undefined;
    request.abort = () => request.destroy();
    request.on('end', () => {
      try {
        respond(target.href, target.method, Buffer.concat(chunks).toString('utf8'));
      } catch (error) {
        request.emit('error', error);
        return;
      }
      const response = new PassThrough();
      Object.assign(response, { statusCode: 200, statusMessage: 'OK', headers: {}, rawHeaders: [] });
      if (callback) {
        callback(response);
      }
      request.emit('response', response);
      response.end();
    });
    return request;
  };
}

function requestTarget(args) {
  let options = {};
  let base;
  if (typeof args[0] === 'string' || args[0] instanceof URL) {
    base = new URL(String(args[0]));
    if (args[1] && typeof args[1] === 'object') {
      options = args[1];
    }
  } else if (args[0] && typeof args[0] === 'object') {
    options = args[0];
  }
  const hostname = options.hostname || (options.host && String(options.host).replace(/:\d+$/, '')) || (base && base.hostname);
  const pathname = options.path || (base && `${base.pathname}${base.search}`) || '/';
  return { hostname, method: options.method || 'GET', href: `https://${hostname}${pathname}` };
}

function guardNetwork() {
  net.Socket.prototype.connect = function connect(...args) {
    let options = args[0];
    if (Array.isArray(options)) {
      options = options[0];
    }
    let host;
    let ipc = false;
    if (options && typeof options === 'object') {
      ipc = Boolean(options.path); // as net does: a path is a pipe
      host = options.host || 'localhost';
    } else if (typeof options === 'number' || /^\d+$/.test(String(options))) {
      host = typeof args[1] === 'string' ? args[1] : 'localhost';
    } else {
      ipc = true;
    }
    if (!ipc && !isLoopback(host)) {
      const port = options && typeof options === 'object' ? options.port : options;
      process.nextTick(() => this.destroy(Object.assign(
        new Error(`lambda-host: connection to ${host}:${port} refused (tests reach loopback only)`), { code: 'ECONNREFUSED' })));
      return this;
    }
    return real.connect.apply(this, args);
  };
}

function isLoopback(host) {
  const name = String(host).replace(/^\[|\]$/g, '').toLowerCase();
  return name === 'localhost' || name.endsWith('.localhost') || name === '::1' || /^127\./.test(name) || name === '::ffff:127.0.0.1';
}

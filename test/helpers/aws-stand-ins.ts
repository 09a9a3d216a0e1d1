/**
 * Local stand-ins for the AWS services fauxqs does not emulate, each on its real HTTP API so an unmodified
 * AWS SDK client (inside a synthesized bundle) reaches it through `AWS_ENDPOINT_URL_<SERVICE>`:
 * - Secrets Manager: `GetSecretValue` on the JSON 1.1 protocol;
 * - Lambda: the durable `Invoke` (`InvocationType: Event` with `X-Amz-Durable-Execution-Name`), which runs
 *   the registered handler under the durable SDK's LocalDurableTestRunner, one execution per name, as Lambda
 *   documents (same name and payload: the existing execution; another payload:
 *   DurableExecutionAlreadyStartedException); a plain asynchronous `Invoke` of a function registered as an event
 *   handler runs it once, in the background; `StopDurableExecution` by ARN is recorded;
 * - KMS: `GenerateDataKey` and `Decrypt` on the JSON 1.1 protocol (`TrentService.*`), with a master key of its
 *   own and the encryption context bound to each ciphertext, as KMS does.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LocalDurableTestRunner, type TestResult } from '@aws/durable-execution-sdk-js-testing';

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', ...headers });
  res.end(JSON.stringify(body));
}

export interface SecretsManagerStandIn {
  url: string;
  /** SecretIds asked for, in order. */
  reads: string[];
  close(): Promise<void>;
}

/**
 * Secrets Manager's `GetSecretValue` over its JSON protocol; unknown ids answer `ResourceNotFoundException`.
 *
 * @example
 * const sm = await startSecretsManagerStandIn({ [arn]: JSON.stringify({ ANTHROPIC_API_KEY: 'k' }) });
 * process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = sm.url;
 */
export async function startSecretsManagerStandIn(secrets: Record<string, string>): Promise<SecretsManagerStandIn> {
  const reads: string[] = [];
  const server = createServer(async (req, res) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const body = JSON.parse((await readBody(req)) || '{}') as { SecretId?: string };
    if (target !== 'secretsmanager.GetSecretValue') {
      return json(res, 400, { __type: 'InvalidRequestException', message: `${target} is not implemented by the stand-in` });
    }
    reads.push(body.SecretId ?? '');
    const value = body.SecretId ? secrets[body.SecretId] : undefined;
    if (value === undefined) return json(res, 400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
    json(res, 200, { ARN: body.SecretId, Name: body.SecretId!.split(':').pop(), SecretString: value, VersionId: 'v1', VersionStages: ['AWSCURRENT'], CreatedDate: 0 });
  });
  const url = await listen(server);
  return { url, reads, close: () => close(server) };
}

/** A durable handler as `withDurableExecution` returns it. */
export type DurableHandler = ConstructorParameters<typeof LocalDurableTestRunner>[0]['handlerFunction'];

export interface DurableInvoke {
  functionName: string;
  executionName: string;
  payload: string;
  executionArn: string;
}

export interface LambdaStandIn {
  url: string;
  invokes: DurableInvoke[];
  /** Execution ARNs `StopDurableExecution` was called with. */
  stops: string[];
  /** Plain asynchronous invokes of event handlers, with what each run returned (or threw). */
  events: { functionName: string; payload: string; result: Promise<unknown> }[];
  /** Runs by execution name; `result` settles when the run ends. */
  executions: Map<string, { executionArn: string; payload: string; result: Promise<TestResult<unknown>> }>;
  /** Makes the next `n` invokes answer 429 TooManyRequestsException (concurrency exhausted). */
  throttleNext(n: number): void;
  close(): Promise<void>;
}

/**
 * Lambda's durable `Invoke` and `StopDurableExecution`; `handlers` maps the FunctionName the caller sends
 * (as the template gives it) to the handler that runs.
 *
 * @example
 * const lambda = await startLambdaStandIn({ 'arn:aws:lambda:us-east-1:123456789012:function:agent:live': handler });
 * process.env.AWS_ENDPOINT_URL_LAMBDA = lambda.url;
 */
export async function startLambdaStandIn(
  handlers: Record<string, DurableHandler>,
  eventHandlers: Record<string, (event: unknown) => Promise<unknown>> = {},
): Promise<LambdaStandIn> {
  const invokes: DurableInvoke[] = [];
  const stops: string[] = [];
  const events: LambdaStandIn['events'] = [];
  const executions: LambdaStandIn['executions'] = new Map();
  let throttled = 0;
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent((req.url ?? '').split('?')[0]!);
    const body = await readBody(req);
    const invoke = /^\/2015-03-31\/functions\/(.+)\/invocations$/.exec(path);
    if (invoke && req.method === 'POST') {
      const functionName = invoke[1]!;
      const eventHandler = eventHandlers[functionName];
      if (eventHandler && req.headers['x-amz-invocation-type'] === 'Event') {
        const result = eventHandler(JSON.parse(body || '{}'));
        result.catch(() => {});
        events.push({ functionName, payload: body, result });
        res.writeHead(202);
        return res.end();
      }
      const handler = handlers[functionName];
      if (!handler) return json(res, 404, { Type: 'User', message: `Function not found: ${functionName}` }, { 'x-amzn-errortype': 'ResourceNotFoundException' });
      if (throttled > 0) {
        throttled--;
        return json(res, 429, { Type: 'User', message: 'Rate Exceeded.', Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' }, { 'x-amzn-errortype': 'TooManyRequestsException' });
      }
      const executionName = String(req.headers['x-amz-durable-execution-name'] ?? '');
      if (req.headers['x-amz-invocation-type'] !== 'Event' || !executionName) {
        return json(res, 400, { message: 'the stand-in only runs asynchronous durable invokes' }, { 'x-amzn-errortype': 'InvalidParameterValueException' });
      }
      const existing = executions.get(executionName);
      if (existing && existing.payload !== body) {
        return json(res, 409, { message: 'already started' }, { 'x-amzn-errortype': 'DurableExecutionAlreadyStartedException' });
      }
      const executionArn = existing?.executionArn ?? `${functionName}/durable-execution/${executionName}/${randomUUID()}`;
      invokes.push({ functionName, executionName, payload: body, executionArn });
      if (!existing) {
        const runner = new LocalDurableTestRunner({ handlerFunction: handler });
        executions.set(executionName, { executionArn, payload: body, result: runner.run({ payload: JSON.parse(body) }) });
      }
      res.writeHead(202, { 'x-amz-durable-execution-arn': executionArn, 'x-amz-executed-version': '1' });
      return res.end();
    }
    const stop = /^\/2025-12-01\/durable-executions\/(.+)\/stop$/.exec(path);
    if (stop && req.method === 'POST') {
      stops.push(stop[1]!);
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ StopTimestamp: Date.now() / 1000 }));
    }
    json(res, 400, { message: `${req.method} ${path} is not implemented by the stand-in` }, { 'x-amzn-errortype': 'InvalidRequestContentException' });
  });
  const url = await listen(server);
  return { url, invokes, stops, events, executions, throttleNext: (n) => void (throttled += n), close: () => close(server) };
}

export interface KmsStandIn {
  url: string;
  /** Every call: its operation, key and encryption context (never a key's bytes). */
  calls: { operation: 'GenerateDataKey' | 'Decrypt'; keyId?: string; context: Record<string, string> }[];
  close(): Promise<void>;
}

/**
 * KMS's `GenerateDataKey` (AES_256) and `Decrypt` over its JSON protocol. A data key's ciphertext is the data
 * key sealed with the stand-in's own master key, the encryption context as authenticated data: `Decrypt` with
 * another context (or another blob) answers `InvalidCiphertextException`, as KMS does. Keys other than
 * `keyArn` answer `NotFoundException`.
 *
 * @example
 * const kms = await startKmsStandIn('arn:aws:kms:us-east-1:123456789012:key/k-1');
 * process.env.AWS_ENDPOINT_URL_KMS = kms.url;
 */
export async function startKmsStandIn(keyArn: string): Promise<KmsStandIn> {
  const master = randomBytes(32);
  const calls: KmsStandIn['calls'] = [];
  const aad = (context: Record<string, string>) => Buffer.from(JSON.stringify(Object.entries(context).sort(([a], [b]) => a.localeCompare(b))));
  const server = createServer(async (req, res) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const body = JSON.parse((await readBody(req)) || '{}') as { KeyId?: string; KeySpec?: string; EncryptionContext?: Record<string, string>; CiphertextBlob?: string };
    const context = body.EncryptionContext ?? {};
    if (target === 'TrentService.GenerateDataKey') {
      calls.push({ operation: 'GenerateDataKey', ...(body.KeyId ? { keyId: body.KeyId } : {}), context });
      if (body.KeyId !== keyArn) return json(res, 400, { __type: 'NotFoundException', message: `Key '${body.KeyId}' does not exist` });
      const plaintext = randomBytes(32);
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', master, iv);
      cipher.setAAD(aad(context));
      const sealed = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      return json(res, 200, { KeyId: keyArn, Plaintext: plaintext.toString('base64'), CiphertextBlob: sealed.toString('base64') });
    }
    if (target === 'TrentService.Decrypt') {
      calls.push({ operation: 'Decrypt', ...(body.KeyId ? { keyId: body.KeyId } : {}), context });
      try {
        const blob = Buffer.from(body.CiphertextBlob ?? '', 'base64');
        const decipher = createDecipheriv('aes-256-gcm', master, blob.subarray(0, 12));
        decipher.setAAD(aad(context));
        decipher.setAuthTag(blob.subarray(blob.length - 16));
        const plaintext = Buffer.concat([decipher.update(blob.subarray(12, blob.length - 16)), decipher.final()]);
        return json(res, 200, { KeyId: keyArn, Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
      } catch {
        return json(res, 400, { __type: 'InvalidCiphertextException', message: '' });
      }
    }
    json(res, 400, { __type: 'UnsupportedOperationException', message: `${target} is not implemented by the stand-in` });
  });
  const url = await listen(server);
  return { url, calls, close: () => close(server) };
}

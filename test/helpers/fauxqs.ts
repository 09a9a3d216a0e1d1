/**
 * fauxqs (SQS + S3 emulator) started in-process on a random loopback port, with AWS SDK clients pointed at it.
 *
 * fauxqs 2.4.1 ignores `If-None-Match` / `If-Match` on PutObject (it only honours them on RenameObject), while
 * the S3 task store relies on S3's conditional writes. So S3 traffic goes through a small gate in front of
 * fauxqs that implements S3's documented semantics for conditional PUTs (412 PreconditionFailed when the
 * condition fails, 404 NoSuchKey for If-Match on a missing key), serialising conditional PUTs per key so the
 * check and the write are atomic, as on S3. Conditional deletes (DeleteObject with If-Match, which fauxqs
 * ignores too) get the same semantics. Every other request is passed through untouched.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';

export interface FauxqsHarness {
  server: FauxqsServer;
  /** fauxqs itself (SQS). */
  endpoint: string;
  /** The conditional-write gate in front of fauxqs (S3). */
  s3Endpoint: string;
  s3: S3Client;
  sqs: SQSClient;
  /** Conditional PUTs the gate refused (412/404), for assertions. */
  refusedConditionalPuts: number;
  stop(): Promise<void>;
}

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const region = 'us-east-1';

function xmlError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>gate</RequestId></Error>`);
}

function forward(target: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const upstream = httpRequest(
      { hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        up.on('end', resolve);
        up.on('error', resolve);
      },
    );
    upstream.on('error', (e) => {
      if (!res.headersSent) xmlError(res, 502, 'InternalError', e.message);
      resolve();
    });
    req.pipe(upstream);
  });
}

function headEtag(target: URL, path: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const r = httpRequest({ hostname: target.hostname, port: target.port, method: 'HEAD', path }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? String(res.headers.etag ?? '') : undefined);
    });
    r.on('error', reject);
    r.end();
  });
}

/**
 * Starts fauxqs and the conditional-write gate.
 *
 * @example
 * const aws = await startFauxqsHarness();
 * aws.server.createBucket('tasks');
 * const store = new S3TaskStore({ s3: aws.s3, bucket: 'tasks' });
 * await aws.stop();
 */
export async function startFauxqsHarness(): Promise<FauxqsHarness> {
  const server = await startFauxqs({ port: 0, logger: false, host: '127.0.0.1', messageSpies: true });
  const target = new URL(server.address);
  const locks = new Map<string, Promise<void>>();
  let refused = 0;

  const gate: Server = createServer(async (req, res) => {
    const ifNoneMatch = req.headers['if-none-match'];
    const ifMatch = req.headers['if-match'];
    const isPlainPut = req.method === 'PUT' && !req.headers['x-amz-copy-source'] && !(req.url ?? '').includes('uploadId=');
    // An object's DELETE (the SDK adds `?x-id=DeleteObject`), not a bucket's or a multipart upload's.
    const isObjectDelete = req.method === 'DELETE' && !(req.url ?? '').includes('uploadId=') && (req.url ?? '/').split('?')[0]!.split('/').filter(Boolean).length > 1;
    if (!(isPlainPut || isObjectDelete) || (ifNoneMatch === undefined && ifMatch === undefined)) return forward(target, req, res);
    const path = (req.url ?? '/').split('?')[0]!;
    const previous = locks.get(path) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const chained = previous.then(() => mine);
    locks.set(path, chained);
    await previous;
    try {
      const etag = await headEtag(target, path);
      if (ifNoneMatch === '*' && etag !== undefined) {
        refused++;
        req.resume();
        return xmlError(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
      }
      if (ifMatch !== undefined && etag === undefined) {
        refused++;
        req.resume();
        return xmlError(res, 404, 'NoSuchKey', 'The specified key does not exist.');
      }
      if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== etag) {
        refused++;
        req.resume();
        return xmlError(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
      }
      await forward(target, req, res);
    } finally {
      release();
      if (locks.get(path) === chained) locks.delete(path);
    }
  });
  await new Promise<void>((r) => gate.listen(0, '127.0.0.1', r));
  const s3Endpoint = `http://127.0.0.1:${(gate.address() as AddressInfo).port}`;

  const s3 = new S3Client({ endpoint: s3Endpoint, region, credentials, forcePathStyle: true });
  const sqs = new SQSClient({ endpoint: server.address, region, credentials });
  const harness: FauxqsHarness = {
    server,
    endpoint: server.address,
    s3Endpoint,
    s3,
    sqs,
    get refusedConditionalPuts() {
      return refused;
    },
    async stop() {
      s3.destroy();
      sqs.destroy();
      gate.closeAllConnections();
      await new Promise<void>((r) => gate.close(() => r()));
      await server.stop();
    },
  };
  return harness;
}

/**
 * Every object of a bucket with its body as text, all pages: what a test searches for a value that must not be
 * stored in plain text.
 *
 * @example
 * expect((await bucketObjects(aws.s3, 'tasks')).filter((o) => o.body.includes(secret))).toEqual([]);
 */
export async function bucketObjects(s3: S3Client, bucket: string): Promise<Array<{ key: string; body: string }>> {
  const out: Array<{ key: string; body: string }> = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ...(token ? { ContinuationToken: token } : {}) }));
    for (const o of page.Contents ?? []) out.push({ key: o.Key!, body: await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }))).Body!.transformToString() });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

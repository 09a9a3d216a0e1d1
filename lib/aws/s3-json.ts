/**
 * JSON documents on S3 with conditional writes: the one way the task store, the connection store and the OAuth
 * store read and write their objects.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/** The part of `S3Client` the stores use (any configured client fits). */
export type S3Sender = Pick<S3Client, 'send'>;

/** `ifNoneMatch`: create only; `ifMatch`: replace only the version with that ETag. */
export interface WriteCondition {
  ifNoneMatch?: boolean;
  ifMatch?: string;
}

/** True for S3's answers to a failed condition (412, and 409 for a concurrent conditional write). */
export function isPreconditionFailure(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return (
    err?.name === 'PreconditionFailed' ||
    err?.name === 'ConditionalRequestConflict' ||
    err?.$metadata?.httpStatusCode === 412 ||
    err?.$metadata?.httpStatusCode === 409
  );
}

/** True for a missing key. */
export function isNoSuchKey(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err?.name === 'NoSuchKey' || err?.name === 'NotFound' || err?.$metadata?.httpStatusCode === 404;
}

/**
 * Reads a JSON object with its ETag; undefined when the key does not exist.
 *
 * @example
 * const found = await getJsonObject(s3, bucket, 'tasks/t1/record.json'); // { value, etag } | undefined
 */
export async function getJsonObject(s3: S3Sender, bucket: string, key: string): Promise<{ value: unknown; etag: string } | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return { value: JSON.parse(await out.Body!.transformToString()), etag: out.ETag ?? '' };
  } catch (e) {
    if (isNoSuchKey(e)) return undefined;
    throw e;
  }
}

/**
 * Writes a JSON object under `condition`; false when the condition failed (another writer won, or an `ifMatch`
 * key was deleted meanwhile: the caller re-reads and decides).
 *
 * @example
 * const created = await putJsonObject(s3, bucket, key, { id }, { ifNoneMatch: true });
 */
export async function putJsonObject(s3: S3Sender, bucket: string, key: string, value: unknown, condition: WriteCondition = {}): Promise<boolean> {
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: JSON.stringify(value),
        ContentType: 'application/json',
        ...(condition.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
        ...(condition.ifMatch ? { IfMatch: condition.ifMatch } : {}),
      }),
    );
    return true;
  } catch (e) {
    if (isPreconditionFailure(e)) return false;
    if (condition.ifMatch && isNoSuchKey(e)) return false;
    throw e;
  }
}

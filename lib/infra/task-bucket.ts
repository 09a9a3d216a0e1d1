import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { TRANSCRIPT_TAG } from '../aws/index.js';

/** Tag the runtime sets on transcript objects (lib/aws writes it), so the lifecycle rule can expire them. */
export { TRANSCRIPT_TAG };

/** Props of {@link TaskBucket}. */
export interface TaskBucketProps {
  /** Days after which objects tagged {@link TRANSCRIPT_TAG} expire. */
  readonly transcriptExpirationDays: number;
  /** Days after which `tasks/` and `idempotency/` objects expire; 0 keeps them. */
  readonly taskExpirationDays: number;
  /** Days the server access logs are kept. */
  readonly accessLogExpirationDays: number;
}

/** What a function may do with the task bucket. */
export type TaskBucketAccess = 'read' | 'readWrite';

/**
 * The S3 task store (`tasks/<id>/record.json`, `tasks/<id>/events/...`, `tasks/<id>/transcript/...`,
 * `idempotency/<account>/<hash>.json`) and a separate bucket for its server access logs.
 *
 * Versioning is off on purpose: the record is rewritten on every state change and correctness comes from
 * conditional writes (If-None-Match / If-Match), so old versions would only add cost, and expiry rules
 * would have to chase noncurrent versions. Both buckets are retained on stack deletion: they hold user data.
 *
 * @example
 * const store = new TaskBucket(this, 'Store', { transcriptExpirationDays: 30, taskExpirationDays: 0, accessLogExpirationDays: 90 });
 * store.grantTaskAccess(fn, 'readWrite');
 */
export class TaskBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: TaskBucketProps) {
    super(scope, id);
    const secure = {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      removalPolicy: RemovalPolicy.RETAIN,
    } satisfies s3.BucketProps;
    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', {
      ...secure,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(props.accessLogExpirationDays) }],
    });
    const lifecycleRules: s3.LifecycleRule[] = [
      {
        id: 'expire-transcripts',
        tagFilters: { [TRANSCRIPT_TAG.key]: TRANSCRIPT_TAG.value },
        expiration: Duration.days(props.transcriptExpirationDays),
      },
      { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
    ];
    if (props.taskExpirationDays > 0) {
      for (const prefix of ['tasks/', 'idempotency/', 'index/']) {
        lifecycleRules.push({ id: `expire-${prefix.slice(0, -1)}`, prefix, expiration: Duration.days(props.taskExpirationDays) });
      }
    }
    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...secure,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: false,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'task-bucket/',
      lifecycleRules,
    });
  }

  /**
   * Grants object access under the task store's prefixes only (`tasks/`, `idempotency/`, `index/` the
   * per-account task list), plus listing of those prefixes (event pages and task lists are listed by key). No delete: records end in a terminal status instead.
   *
   * @example
   * store.grantTaskAccess(agentFunction, 'readWrite');
   */
  grantTaskAccess(grantee: iam.IGrantable, access: TaskBucketAccess): void {
    const objects = ['tasks/*', 'idempotency/*', 'index/*'].map((p) => this.bucket.arnForObjects(p));
    const actions = access === 'read' ? ['s3:GetObject'] : ['s3:GetObject', 's3:PutObject', 's3:PutObjectTagging'];
    iam.Grant.addToPrincipal({ grantee, actions, resourceArns: objects });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket'],
      resourceArns: [this.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': ['tasks/*', 'idempotency/*', 'index/*'] } },
    });
  }

  /**
   * Grants the MCP connection records (`connections/<account>/...`: records, sealed credentials, name claims)
   * and reading the operator's catalog object (`config/mcp-catalog.json`). `manage` adds delete (the API
   * removes a connection); the keeper and the agent only read and update.
   *
   * @example
   * store.grantConnectionAccess(apiFunction, 'manage');
   */
  grantConnectionAccess(grantee: iam.IGrantable, access: 'readWrite' | 'manage'): void {
    const actions = ['s3:GetObject', 's3:PutObject', ...(access === 'manage' ? ['s3:DeleteObject'] : [])];
    iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [this.bucket.arnForObjects('connections/*')] });
    iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject'], resourceArns: [this.bucket.arnForObjects('config/mcp-catalog.json')] });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket'],
      resourceArns: [this.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': ['connections/*', 'config/*'] } },
    });
  }

  /**
   * Lets a function delete decided approvals (`tasks/<id>/approvals/...`) and nothing else.
   *
   * @example
   * store.grantApprovalCleanup(apiFunction);
   */
  grantApprovalCleanup(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({ grantee, actions: ['s3:DeleteObject'], resourceArns: [this.bucket.arnForObjects('tasks/*/approvals/*')] });
  }
}

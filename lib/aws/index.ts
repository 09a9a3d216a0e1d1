/** The AWS runtime's adapters: S3 task store, Secrets Manager, SQS dispatch, durable journal, authorizer, schedules. */
export * from './s3-task-store.js';

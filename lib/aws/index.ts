/** The AWS runtime's adapters: S3 task store, Secrets Manager, SQS dispatch, durable journal, authorizer, schedules. */
export * from './s3-task-store.js';
export * from './lambda-events.js';
export * from './task-message.js';
export * from './dispatcher.js';
export * from './durable-journal.js';
export * from './secrets.js';
export * from './agent-handler.js';
export * from './authorizer.js';
export * from './schedules.js';
export * from './task-service.js';
export * from './api-handler.js';
export * from './observability.js';
export * from './sandbox-sweeper.js';

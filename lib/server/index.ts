/** The local service behind `deep-agent serve`: HTTP app on 127.0.0.1, SQLite queue worker, scheduler, token auth. */
export {
  startLocalService,
  serveSettingsFromEnv,
  ensureApiToken,
  readApiToken,
  localApprovalPolicy,
  LOCAL_ACCOUNT,
  API_TOKEN_FILE,
  type LocalService,
  type LocalServiceOptions,
  type ServeSettings,
} from './local-service.js';
export { TaskWorker, type TaskWorkerOptions } from './worker.js';

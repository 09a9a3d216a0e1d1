/**
 * The task's sandbox: created on the first tool call that needs it, its id written on the task record (so cancel
 * and a sweeper can find it, and a replay reconnects instead of creating a second one), paused while a person
 * decides, and closed at the end unless the run is parked.
 *
 * Creation happens inside the step of the tool that needs it, never as an operation of its own: which tool
 * call of a concurrent turn gets there first depends on timing, and a journal operation must not.
 */
import type { CreateSandboxOptions, MaskedCredentialSpec, Sandbox, SandboxProvider } from '../sandbox/index.js';
import type { TaskRecord, TaskStore } from '../task/index.js';

export class TaskSandbox {
  private opened: Promise<Sandbox> | undefined;
  /** The task's own masked credentials (its `secrets`, resolved by the run), held on create and on reconnect. */
  private credentials: readonly MaskedCredentialSpec[] = [];

  constructor(
    private readonly provider: SandboxProvider,
    private readonly store: TaskStore,
    private readonly record: Pick<TaskRecord, 'id' | 'accountId' | 'network'>,
  ) {}

  /**
   * What every open of the task's sandbox carries: the task's egress allowlist, which bounds every command, and
   * its masked credentials (a reconnected E2B sandbox gets its header rules again, a local one new sentinels).
   */
  private get own(): Pick<CreateSandboxOptions, 'network' | 'maskedCredentials'> {
    return {
      ...(this.record.network ? { network: this.record.network } : {}),
      ...(this.credentials.length ? { maskedCredentials: this.credentials } : {}),
    };
  }

  /** Gives the sandbox the task's resolved secrets; called before it is first opened. */
  holdCredentials(credentials: readonly MaskedCredentialSpec[]): void {
    this.credentials = credentials;
  }

  /** The sandbox, opened once per run: reconnected when the record names one, else created and recorded. */
  get(): Promise<Sandbox> {
    return (this.opened ??= this.open());
  }

  private async open(): Promise<Sandbox> {
    const taskId = this.record.id;
    const known = (await this.store.get(taskId))?.sandboxIds ?? [];
    const last = known.at(-1);
    if (last && this.provider.connect) return this.provider.connect(last, { taskId, ...this.own });
    const created = await this.provider.create({ taskId, ...this.own, metadata: { taskId, ...(this.record.accountId ? { accountId: this.record.accountId } : {}) } });
    await this.store.update(taskId, { sandboxIds: [...known, created.id] });
    return created;
  }

  /** A cloud sandbox sleeps (and stops billing) while a person decides. */
  async pause(): Promise<void> {
    if (this.opened) await (await this.opened).pause?.();
  }

  async resume(): Promise<void> {
    if (this.opened) await (await this.opened).resume?.();
  }

  /**
   * At the end of a run: a parked run leaves a pausable sandbox paused for the next run to reconnect; any other
   * end closes it, and also the sandboxes the record names that this run did not open (made by an earlier
   * run of the same task), where the provider can reach them.
   */
  async release(options: { parked: boolean; record?: TaskRecord }): Promise<void> {
    const open = this.opened ? await this.opened.catch(() => undefined) : undefined;
    if (open) {
      if (!(options.parked && open.pause)) await open.close().catch(() => {});
    }
    if (options.parked || !this.provider.connect) return;
    for (const id of options.record?.sandboxIds ?? []) {
      if (id === open?.id) continue;
      await this.provider
        .connect(id, { taskId: this.record.id })
        .then((s) => s.close())
        .catch(() => {}); // gone already (expired, or killed by a cancel)
    }
  }
}

/**
 * What a task owns besides its sandbox (the E2B MCP gateway): created in a step of its own right after
 * `task:start`, at a fixed place in the root context, so its operation id never depends on timing and a replay
 * gets the checkpointed id back and reattaches instead of creating a second one.
 */
import { toErrorInfo } from '../errors/index.js';
import type { TaskRecord, TaskStore } from '../task/index.js';
import type { CountedJournal } from './budgets.js';
import { endsTask } from './budgets.js';
import type { TaskResource } from './types.js';

export class TaskResources {
  private readonly opened = new Set<TaskResource>();
  private readonly failed = new Map<TaskResource, string>();

  constructor(
    private readonly resources: TaskResource[],
    private readonly store: TaskStore,
    private readonly record: Pick<TaskRecord, 'id' | 'accountId'>,
  ) {}

  /**
   * Creates (first run) or finds (replay) each resource in the step `<name>:create`, then attaches to it. A
   * resource that cannot be created is left out with a note for the model; the task goes on without it.
   */
  async open(journal: CountedJournal): Promise<void> {
    const taskId = this.record.id;
    for (const resource of this.resources) {
      let id: string;
      try {
        id = await journal.step(`${resource.name}:create`, async () => {
          // An attempt that died after creating it, before its step was checkpointed, recorded it here.
          const known = (await this.store.get(taskId))?.resourceSandboxIds ?? {};
          if (known[resource.name]) return known[resource.name]!;
          const created = await resource.create({ taskId, ...(this.record.accountId ? { accountId: this.record.accountId } : {}) });
          await this.store.update(taskId, { resourceSandboxIds: { ...known, [resource.name]: created } });
          return created;
        });
      } catch (e) {
        if (endsTask(e)) throw e;
        this.failed.set(resource, toErrorInfo(e).message);
        continue;
      }
      this.opened.add(resource);
      await resource.open(id);
    }
  }

  /** Notes for the model about resources that did not come up. */
  notes(): string[] {
    const out: string[] = [];
    for (const r of this.resources) {
      const note = this.failed.has(r) ? `${r.name} could not start: ${this.failed.get(r)}` : this.opened.has(r) ? r.unavailableNote?.() : undefined;
      if (note) out.push(note);
    }
    return out;
  }

  async pause(): Promise<void> {
    for (const r of this.opened) await r.pause?.().catch(() => {});
  }

  async resume(): Promise<void> {
    for (const r of this.opened) await r.resume?.().catch(() => {});
  }

  /** At the run's end; `ids` are the record's, for a resource this run never opened (made by an earlier run). */
  async release(options: { parked: boolean; ids?: Record<string, string> }): Promise<void> {
    for (const r of this.resources) {
      const id = options.ids?.[r.name];
      if (!this.opened.has(r) && (options.parked || !id)) continue;
      await r.release({ parked: options.parked, ...(id ? { id } : {}) }).catch(() => {});
    }
  }
}

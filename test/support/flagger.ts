// Flagger's side of its webhooks, replayed from its source (fluxcd/flagger @15bd6ad) for tests that have no
// Kubernetes cluster: one Canary (strategy canary, stepWeight/maxWeight/threshold) advanced one analysis
// interval per `advance()`, calling each webhook in the order and with the payload Flagger uses, over real
// HTTP, with only a Content-Type header (CanaryWebhook has no headers), and reading the status the way
// Flagger does (pkg/controller/webhook.go: a status above 202 is an error). References are to
// pkg/controller/scheduler.go (advanceCanary, checkCanaryStatus, runCanary, rollback),
// scheduler_hooks.go, events.go and pkg/canary/status.go.
export type HookType =
  | 'confirm-rollout'
  | 'pre-rollout'
  | 'rollout'
  | 'confirm-traffic-increase'
  | 'confirm-promotion'
  | 'post-rollout'
  | 'rollback'
  | 'event';

export interface Webhook {
  name: string;
  type: HookType;
  url: string;
  metadata?: Record<string, string>;
}

export interface Call {
  type: HookType;
  phase: string;
  checksum: string;
  status: number;
  metadata: Record<string, string>;
}

type Phase =
  'Initialized' | 'Waiting' | 'Progressing' | 'WaitingPromotion' | 'Promoting' | 'Finalising' | 'Succeeded' | 'Failed';

export class FlaggerCanary {
  phase: Phase = 'Initialized';
  /** status.lastAppliedSpec: the checksum webhooks carry (canaryChecksum hashes it). */
  lastApplied: string;
  /** the target Deployment's current spec hash */
  target: string;
  canaryWeight = 0;
  iterations = 0;
  failedChecks = 0;
  readonly calls: Call[] = [];

  constructor(
    readonly o: {
      name: string;
      namespace: string;
      webhooks: Webhook[];
      stepWeight: number;
      maxWeight: number;
      threshold: number;
      /** the revision the canary was initialized with (already the primary) */
      initial: string;
    },
  ) {
    this.lastApplied = o.initial;
    this.target = o.initial;
  }

  /** kubectl apply of a new revision of the target Deployment. */
  deploy(revision: string): void {
    this.target = revision;
  }

  private async call(w: Webhook, phase: string, metadata: Record<string, string>): Promise<boolean> {
    const payload = { name: this.o.name, namespace: this.o.namespace, phase, checksum: this.lastApplied, metadata };
    const r = await fetch(w.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(10_000), // webhook.go: 10 s unless the webhook says otherwise
    });
    await r.text();
    this.calls.push({ type: w.type, phase, checksum: this.lastApplied, status: r.status, metadata });
    return r.status <= 202;
  }

  /** runXHooks: every webhook of the type must answer 2xx (the first failure stops the loop). */
  private async hooks(type: HookType, phase: string): Promise<boolean> {
    for (const w of this.o.webhooks.filter((x) => x.type === type))
      if (!(await this.call(w, phase, w.metadata ?? {}))) return false;
    return true;
  }

  /** runRollbackHooks: true as soon as one rollback webhook answers 2xx. */
  private async rollbackSignalled(phase: string): Promise<boolean> {
    for (const w of this.o.webhooks.filter((x) => x.type === 'rollback'))
      if (await this.call(w, phase, w.metadata ?? {})) return true;
    return false;
  }

  /** recordEvent*: event webhooks get the phase given and eventMessage/eventType/timestamp (CallEventWebhook). */
  private async event(message: string, phase: Phase = this.phase, type = 'Normal'): Promise<void> {
    for (const w of this.o.webhooks.filter((x) => x.type === 'event'))
      await this.call(w, phase, {
        eventMessage: message,
        eventType: type,
        timestamp: String(Date.now()),
        ...(w.metadata ?? {}),
      });
  }

  private async rollback(): Promise<void> {
    if (this.failedChecks >= this.o.threshold)
      await this.event(
        `Rolling back ${this.o.name}.${this.o.namespace} failed checks threshold reached`,
        this.phase,
        'Warning',
      );
    this.canaryWeight = 0;
    await this.event(`Canary failed! Scaling down ${this.o.name}.${this.o.namespace}`, 'Failed', 'Warning');
    this.phase = 'Failed'; // SyncStatus(Failed): lastAppliedSpec stays the revision analysed
    this.iterations = 0;
    await this.hooks('post-rollout', 'Failed');
  }

  /** One run of advanceCanary (one analysis interval). */
  async advance(): Promise<void> {
    const active: Phase[] = ['Progressing', 'Waiting', 'WaitingPromotion', 'Promoting', 'Finalising'];
    // shouldAdvance
    if (!active.includes(this.phase)) {
      const before = this.lastApplied;
      if (this.phase === 'Failed') this.lastApplied = this.target; // "sync lastAppliedSpec even if failed"
      if (this.target === before) return;
    }
    // checkCanaryStatus
    if (!['Progressing', 'WaitingPromotion', 'Promoting', 'Finalising'].includes(this.phase)) {
      if (!(await this.hooks('confirm-rollout', this.phase))) {
        if (this.phase !== 'Waiting') {
          this.phase = 'Waiting';
          await this.event(
            `Halt ${this.o.name}.${this.o.namespace} advancement waiting for approval`,
            'Waiting',
            'Warning',
          );
        }
        return;
      }
      await this.event('New revision detected! Scaling up', 'Progressing'); // still the old checksum
      this.phase = 'Progressing'; // SyncStatus: lastAppliedSpec = the target's hash
      this.lastApplied = this.target;
      this.canaryWeight = 0;
      this.failedChecks = 0;
      this.iterations = 0;
      return;
    }
    if (['Progressing', 'Waiting', 'WaitingPromotion'].includes(this.phase)) {
      if (await this.rollbackSignalled(this.phase)) {
        await this.event(
          `Rolling back ${this.o.name}.${this.o.namespace} manual webhook invoked`,
          this.phase,
          'Warning',
        );
        await this.rollback();
        return;
      }
    }
    if (this.phase === 'Promoting') {
      await this.event('Routing all traffic to primary');
      this.canaryWeight = 0;
      this.phase = 'Finalising';
      return;
    }
    if (this.phase === 'Finalising') {
      this.phase = 'Succeeded';
      await this.hooks('post-rollout', 'Succeeded');
      await this.event(`Promotion completed! Scaling down ${this.o.name}.${this.o.namespace}`, 'Succeeded');
      return;
    }
    if ((this.phase === 'Progressing' || this.phase === 'WaitingPromotion') && this.failedChecks >= this.o.threshold) {
      await this.rollback();
      return;
    }
    if (this.canaryWeight === 0 && this.iterations === 0) {
      await this.event('Starting canary analysis');
      if (!(await this.hooks('pre-rollout', 'Progressing'))) {
        this.failedChecks++;
        return;
      }
    } else if (!(await this.hooks('rollout', 'Progressing'))) {
      this.failedChecks++;
      return;
    }
    // strategy canary (runCanary); stepWeight > 0 so nextStepWeight > 0
    if (this.phase !== 'WaitingPromotion' && !(await this.hooks('confirm-traffic-increase', 'Progressing'))) return;
    if (this.canaryWeight < this.o.maxWeight) {
      this.canaryWeight = Math.min(100, this.canaryWeight + this.o.stepWeight);
      await this.event(`Advance ${this.o.name}.${this.o.namespace} canary weight ${this.canaryWeight}`);
      return;
    }
    if (!(await this.hooks('confirm-promotion', 'Progressing'))) {
      if (this.phase !== 'WaitingPromotion') {
        this.phase = 'WaitingPromotion';
        await this.event('Halt advancement waiting for promotion approval', 'WaitingPromotion', 'Warning');
      }
      return;
    }
    await this.event(`Copying ${this.o.name}.${this.o.namespace} template spec to ${this.o.name}-primary`);
    this.phase = 'Promoting';
  }
}

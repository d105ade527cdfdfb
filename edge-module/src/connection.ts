/**
 * The connection to edgeHub: open it (retrying until edgeHub answers), and after a loss either follow
 * the SDK's own reconnection (then re-read the twin) or, once the SDK has given up, open it again.
 */
import { describeError, type ModuleClientLike } from './module-client.js';
import type { ModuleState } from './module-state.js';
import type { TwinSettings } from './twin-settings.js';

export class Connection {
  connected = false;
  private reopening = false;

  constructor(
    private readonly client: ModuleClientLike,
    private readonly state: ModuleState,
    private readonly twin: TwinSettings,
  ) {}

  /** Follows the client's connection events; call before open(). */
  watch(): void {
    const { client, state } = this;
    client.on('error', (error) => state.log.warn({ err: describeError(error) }, 'IoT Edge client error'));
    client.on('connect', () => this.onReconnect());
    client.on('disconnect', (error) => {
      this.connected = false;
      state.log.warn({ err: describeError(error) }, 'disconnected from edgeHub; reconnecting');
      void this.reopen();
    });
  }

  open(): Promise<void> {
    return this.state.untilDone('cannot connect to edgeHub', async () => {
      await this.client.open();
      this.connected = true;
      this.state.log.info({}, 'connected to edgeHub');
    });
  }

  /**
   * The SDK reconnected (on its own or after reopen()): desired-property patches sent meanwhile were
   * missed, so the twin is read again, which also re-reports the state.
   */
  private onReconnect(): void {
    if (!this.twin.loaded || this.state.stopping) return;
    this.connected = true;
    this.state.log.info({}, 'reconnected to edgeHub');
    this.twin.reread();
  }

  /** After the SDK gave up reconnecting on its own: open again until it works. */
  private async reopen(): Promise<void> {
    if (this.reopening || this.state.stopping) return;
    this.reopening = true;
    try {
      await this.open();
      if (this.twin.loaded) await this.twin.report().catch(() => undefined);
    } finally {
      this.reopening = false;
    }
  }
}

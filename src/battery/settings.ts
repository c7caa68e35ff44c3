/**
 * A battery's identity in Venus OS's settings service (localsettings): the VRM instance it hands
 * out for `ClassAndVrmInstance` (which may differ from the configured one when that is taken) and
 * a /CustomName set from the GUI earlier. Without a settings service the config's values stand.
 */
import { parseClassAndVrmInstance, type SettingsClient } from '../dbus/index.js';
import type { Logger } from '../log.js';
import type { Identity } from './identity.js';

export interface IdentityStore {
  /** Ask for the instance and stored name; updates `identity` in place. Never rejects. */
  claim(identity: Identity): Promise<void>;
  /** Keep a name set over D-Bus for the next start. */
  storeName(name: string): void;
}

export class SettingsIdentity implements IdentityStore {
  private base?: string;

  constructor(
    private readonly client: SettingsClient,
    private readonly batteryName: string,
    private readonly log: Logger,
  ) {}

  async claim(identity: Identity): Promise<void> {
    const base = `/Settings/Devices/vbat_${this.batteryName.replace(/-/g, '_')}`;
    try {
      if (!(await this.client.available())) {
        this.log.info(`no settings service on the bus: using the configured instance ${identity.instance}`);
        return;
      }
      const [instance, name] = await this.client.addSettings([
        { path: `${base}/ClassAndVrmInstance`, default: `battery:${identity.instance}` },
        { path: `${base}/CustomName`, default: '' },
      ]);
      const n = instance?.error === 0 ? parseClassAndVrmInstance(instance.value) : undefined;
      if (n === undefined)
        this.log.warn(`settings service gave no usable instance (${JSON.stringify(instance)}): using ${identity.instance}`);
      else if (n !== identity.instance) this.log.info(`settings service assigned instance ${n} (configured ${identity.instance})`);
      if (n !== undefined) identity.instance = n;
      if (name?.error === 0 && typeof name.value === 'string' && name.value !== '') identity.customName = name.value;
      this.base = base;
    } catch (err) {
      this.log.warn(`settings service did not answer (${(err as Error).message}): using the configured instance ${identity.instance}`);
    }
  }

  storeName(name: string): void {
    if (!this.base) return;
    this.client.setValue(`${this.base}/CustomName`, name).then(
      (code) => code !== 0 && this.log.warn(`settings service refused the new name (code ${code})`),
      (err: Error) => this.log.warn(`could not store the new name in the settings service: ${err.message}`),
    );
  }
}

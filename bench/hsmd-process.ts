/**
 * An hsmd under the simulated lightningd for the benches: bin/sphinx-hsmd with the local signer,
 * or the remote path with a bin/sphinx-signer device process on the embedded MQTT server, or
 * CLN's own hsmd (the executable SPHINX_CLN_HSMD names); every process and directory is gone
 * when `use` returns or throws.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { CLN_HSMD } from '../test/cln-pair.js';
import { freePort, startDeviceProcess } from '../test/remote-helpers.js';

export type SignerMode = 'local' | 'remote';

/** CLN's hsmd, built from CLN's sources outside this repository (docs/performance.md), if named. */
export { CLN_HSMD } from '../test/cln-pair.js';

export async function withHsmd<T>(
  mode: SignerMode | 'cln',
  header: { hsm_secret: string; cln_version: string; hsmd_args: string[] },
  use: (ld: SimLightningd) => Promise<T> | T,
  /** More settings for sphinx-hsmd (broker/config.ts). */
  env: Readonly<Record<string, string>> = {},
): Promise<T> {
  if (mode === 'cln' && CLN_HSMD === undefined) throw new Error('SPHINX_CLN_HSMD names no hsmd');
  const secret = Buffer.from(header.hsm_secret, 'hex');
  const dataDir = mkdtempSync(join(tmpdir(), `sphinx-bench-${mode}-`));
  const port = await freePort();
  const device = mode === 'remote'
    ? startDeviceProcess({ url: `mqtt://127.0.0.1:${port}`, brokerIdFile: join(dataDir, 'broker-id'), hsmSecret: secret })
    : undefined;
  try {
    const ld = await SimLightningd.start({
      hsmSecret: secret,
      ...(mode === 'cln' ? { hsmd: CLN_HSMD, args: header.hsmd_args } : {}),
      env: { SPHINX_SIGNER: mode, SPHINX_DATA_DIR: dataDir, SPHINX_MQTT_PORT: String(port), SPHINX_CLN_VERSION: header.cln_version, ...env },
      timeoutMs: 30_000,
    });
    try {
      const result = await use(ld);
      await ld.stop();
      return result;
    } catch (e) {
      await ld.exited(2000).catch(() => undefined);
      throw new Error(`${mode}: ${(e as Error).message}\nhsmd status:\n${ld.describeStatus()}`, { cause: e });
    } finally {
      ld.cleanup();
    }
  } finally {
    await device?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    if (device) rmSync(device.dir, { recursive: true, force: true });
  }
}

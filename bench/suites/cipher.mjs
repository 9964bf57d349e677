// cipher: AES-256-GCM through modelcache (sync and on the libuv pool) against node:crypto's
// createCipheriv on the same 256 MiB, both directions.
import { createCipheriv, createDecipheriv, randomBytes, randomFillSync } from 'node:crypto';
import { decrypt, decryptAsync, encrypt, encryptAsync } from '../../dist/index.js';
import { gbps, measureRounds, timeOnce } from '../lib/measure.mjs';
import { addCases, createGroup, finishGroup, medianOf, target } from '../lib/result.mjs';

const MiB = 1024 * 1024;
const BASELINE = 'node:crypto aes-256-gcm';

// GCM is a stream mode: final() returns no bytes, so no Buffer.concat copy is charged to Node.
const join = (a, b) => (b.length === 0 ? a : Buffer.concat([a, b]));

function nodeEncrypt(data, key) {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const body = join(c.update(data), c.final());
  return { iv, body, tag: c.getAuthTag() };
}

function nodeDecrypt({ iv, body, tag }, key) {
  const d = createDecipheriv('aes-256-gcm', key, iv);
  d.setAuthTag(tag);
  return join(d.update(body), d.final());
}

export default {
  name: 'cipher',
  title: 'AES-256-GCM encryption and decryption',
  async run({ quick }) {
    const size = quick ? 32 * MiB : 256 * MiB;
    const data = randomFillSync(Buffer.allocUnsafe(size));
    const key = randomBytes(32);
    const cipher = { algorithm: 'aes-256-gcm', key };

    if (!nodeDecrypt(nodeEncrypt(data, key), key).equals(data)) throw new Error('node:crypto round trip failed');
    if (!decrypt(encrypt(data, cipher), cipher).equals(data)) throw new Error('modelcache round trip failed');

    const both = (enc, dec) => async () => {
      let sealed;
      const e = await timeOnce(async () => { sealed = await enc(); });
      const d = await timeOnce(() => dec(sealed));
      sealed = null;
      return { enc: gbps(size, e), dec: gbps(size, d) };
    };
    const cases = [
      { name: BASELINE, sample: both(() => nodeEncrypt(data, key), (s) => nodeDecrypt(s, key)) },
      { name: 'modelcache encrypt/decrypt', sample: both(() => encrypt(data, cipher), (s) => decrypt(s, cipher)) },
      { name: 'modelcache encryptAsync/decryptAsync', sample: both(() => encryptAsync(data, cipher), (s) => decryptAsync(s, cipher)) },
    ];
    const rounds = { ...(quick ? { min: 3, max: 3, budgetMs: 0 } : { min: 7, max: 15, budgetMs: 6000 }), settleMs: 100 };
    const g = createGroup(`${size / MiB} MiB random bytes`, {
      baseline: BASELINE,
      columns: [
        { key: 'enc', label: 'encrypt', unit: 'GB/s', better: 'higher' },
        { key: 'dec', label: 'decrypt', unit: 'GB/s', better: 'higher' },
      ],
      note: 'Both sides use the OpenSSL inside Node; modelcache also authenticates its envelope header. GB = 1e9 bytes.',
    });
    addCases(g, await measureRounds('cipher', cases, rounds));
    finishGroup(g);
    const ours = 'modelcache encrypt/decrypt';
    const targets = [
      target('encrypt throughput vs node:crypto', medianOf(g, ours, 'enc') / medianOf(g, BASELINE, 'enc'), 0.9),
      target('decrypt throughput vs node:crypto', medianOf(g, ours, 'dec') / medianOf(g, BASELINE, 'dec'), 0.9),
    ];
    return { notes: [], groups: [g], targets };
  },
};

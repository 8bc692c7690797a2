#!/usr/bin/env node
// Writes node/warm-up-session.json, the requests node/warm-up.ts replays at start-up, from the
// recorded session test/fixtures/transcripts/session-basic-l2.jsonl (CLN's requests to node l2's
// hsmd; the benches time l1's, so the warm-up is not the session they measure). Run it again
// only if that recording changes: node scripts/make-warm-up.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const source = 'test/fixtures/transcripts/session-basic-l2.jsonl';
const [header, ...exchanges] = readFileSync(join(root, source), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
const CLIENT_HSMFD = '0009'; // answered by the broker itself, not the signer
const requests = exchanges
  .filter((ex) => !ex.req.startsWith(CLIENT_HSMFD))
  .map((ex) => (ex.conn === 'master' ? { req: ex.req } : { peer: ex.peer, dbid: ex.dbid, perms: ex.perms, req: ex.req }));
const out = { source, cln_version: header.header.cln_version, hsm_secret: header.header.hsm_secret, requests };
writeFileSync(join(root, 'node', 'warm-up-session.json'), JSON.stringify(out) + '\n');
console.log(`node/warm-up-session.json: ${requests.length} requests from ${source}`);

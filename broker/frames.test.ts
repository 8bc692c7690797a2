/**
 * Framing (docs/hsmd-protocol.md#framing, CLN wire/wire_io.c): u32 BE length + body, any chunking,
 * lengths at or above WIRE_LEN_LIMIT refused, EOF inside a frame an error.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { FrameError, FrameReader, WIRE_LEN_LIMIT, frame } from './frames.js';

const bytes = (hex: string): Buffer => Buffer.from(hex, 'hex');

test('frame() prefixes the u32 big-endian length (hsmd_client_hsmfd_reply is 00000002 006d)', () => {
  assert.equal(frame(bytes('006d')).toString('hex'), '00000002006d');
  assert.equal(frame(new Uint8Array(0)).toString('hex'), '00000000');
});

test('WIRE_LEN_LIMIT is 1<<27 (wire/wire_io.h)', () => {
  assert.equal(WIRE_LEN_LIMIT, 134217728);
});

test('frames come out whole whatever the chunking: byte by byte, several per chunk, empty bodies', async () => {
  const bodies = [bytes('000b0102'), new Uint8Array(0), bytes('006d'), Buffer.alloc(70_000, 7)];
  const wire = Buffer.concat(bodies.map((b) => frame(b)));
  for (const cuts of [[1], [3, 4, 5], [wire.length], [2, 7, 100, 4000]]) {
    const stream = new PassThrough();
    const reader = new FrameReader(stream);
    let at = 0;
    for (let i = 0; at < wire.length; i++) {
      const n = cuts[i % cuts.length]!;
      stream.write(wire.subarray(at, at + n));
      at += n;
    }
    stream.end();
    for (const body of bodies) assert.deepEqual(Buffer.from((await reader.read())!), Buffer.from(body));
    assert.equal(await reader.read(), null);
  }
});

test('a read waits for a frame that has not arrived yet', async () => {
  const stream = new PassThrough();
  const reader = new FrameReader(stream);
  const pending = reader.read();
  stream.write(bytes('0000000300'));
  stream.write(bytes('1b00'));
  assert.equal(Buffer.from((await pending)!).toString('hex'), '001b00');
});

test('a length at WIRE_LEN_LIMIT is refused as soon as the header arrives', async () => {
  const stream = new PassThrough();
  const reader = new FrameReader(stream);
  stream.write(bytes('08000000')); // 1<<27: wire_io.c rejects len >= WIRE_LEN_LIMIT
  await assert.rejects(reader.read(), (e: Error) => e instanceof FrameError && /WIRE_LEN_LIMIT/.test(e.message));
});

test('the largest allowed length is accepted', async () => {
  const stream = new PassThrough();
  const reader = new FrameReader(stream, 16);
  stream.end(frame(Buffer.alloc(15, 1)));
  assert.equal((await reader.read())!.length, 15);
});

test('EOF inside a frame is an error; EOF between frames is the end', async () => {
  const stream = new PassThrough();
  const reader = new FrameReader(stream);
  stream.end(bytes('0000000a0001'));
  await assert.rejects(reader.read(), (e: Error) => e instanceof FrameError && /inside a frame/.test(e.message));
});

/** aedes-persistence-level ships no types: the factory takes a `level` database. */
declare module 'aedes-persistence-level' {
  import type { Level } from 'level';
  const persistence: (db: Level<string, unknown>) => unknown;
  export default persistence;
}

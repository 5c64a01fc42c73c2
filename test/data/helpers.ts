// Shared by the data tests.
import assert from 'node:assert/strict';

import { DataFileError } from '../../src/data/index.js';

/** Asserts that fn throws a DataFileError for `file` whose message names it and says `what`. */
export function throwsNaming(fn: () => unknown, file: string, what: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof DataFileError, `expected a DataFileError, got ${String(error)}`);
    assert.equal(error.file, file);
    assert.ok(error.message.startsWith(file), `the message should start with the file: ${error.message}`);
    assert.match(error.message, what);
    return true;
  });
}

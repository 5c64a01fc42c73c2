// The error every data loader throws for a bad file or folder: the message
// starts with the path, then says what is wrong with it.

/** A data file or folder that is missing or malformed; `file` is its path. */
export class DataFileError extends Error {
  readonly file: string;

  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'DataFileError';
    this.file = file;
  }
}

// Where to start reading a tailed file, from the position saved for it:
// {inode, offset} of the last complete line handed on. A bare offset is not
// enough: after a rotation while knocklog was down it would point into the new
// file and silently skip its lines.

import { stat } from 'node:fs/promises';

export interface FilePosition {
  /** Inode of the file the offset belongs to; null: read the file from its start when it exists. */
  ino: number | null;
  /** Byte offset after the last complete line handed on. */
  offset: number;
}

export interface StartPlan {
  /**
   * The file to read first: the path, or its rotated `PATH.1` (tail-file moves on to the path when that gets
   * content).
   */
  file: string;
  /** Where the position now stands: the inode of `file` (null when missing) and the byte offset to read from. */
  position: FilePosition;
  /** Something the user should know (lines that could not be read), or null. */
  note: string | null;
}

async function statOrNull(file: string): Promise<{ ino: number; size: number } | null> {
  try {
    return await stat(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function at(file: string, ino: number, offset: number, size: number, note: string | null = null): StartPlan {
  if (offset <= size) return { file, position: { ino, offset }, note };
  return {
    file,
    position: { ino, offset: 0 },
    note:
      `${file} is shorter than the saved position (truncated while knocklog was not reading): ` +
      'reading it from its start',
  };
}

/** With no saved position: the current end, so that nothing written after this moment is missed. */
export async function planStart(path: string, saved: FilePosition | null): Promise<StartPlan> {
  const rotated = `${path}.1`;
  const current = await statOrNull(path);
  if (saved !== null && saved.ino !== null) {
    if (current !== null && current.ino === saved.ino) return at(path, current.ino, saved.offset, current.size);
    const old = await statOrNull(rotated);
    // Rotated while down: finish the old file from the saved offset, then the new one from its start.
    if (old !== null && old.ino === saved.ino) return at(rotated, old.ino, saved.offset, old.size);
    const note =
      `${path} was replaced while knocklog was not reading it and the old file is not ${rotated}: ` +
      'lines written to the old file after the saved position are not read';
    if (current !== null) return { file: path, position: { ino: current.ino, offset: 0 }, note };
    return { file: path, position: { ino: null, offset: 0 }, note };
  }
  if (current !== null) {
    return { file: path, position: { ino: current.ino, offset: saved === null ? current.size : 0 }, note: null };
  }
  if (saved === null) {
    // Between a rotation and the new file's creation the writer still appends to the old one.
    const old = await statOrNull(rotated);
    if (old !== null) return { file: rotated, position: { ino: old.ino, offset: old.size }, note: null };
  }
  return { file: path, position: { ino: null, offset: 0 }, note: null };
}
